import { useState } from "preact/hooks";
import { api } from "../api";
import { dateTime } from "../format";
import { Loaded, Table, useData } from "../ui";

interface Callback {
  id: number;
  phone: string;
  time_window: string;
  name: string | null;
  status: string;
  email?: string | null;
  created_at: string;
}

export function Callbacks() {
  const state = useData(() => api<{ callbacks: Callback[] }>("/v1/admin/callbacks?status=open"), []);
  const [status, setStatus] = useState("");
  const done = async (c: Callback) => {
    try {
      await api(`/v1/admin/callbacks/${c.id}`, { method: "PATCH", body: { status: "done" } });
      setStatus(`Callback to ${c.phone} marked done.`);
      state.reload();
    } catch (e) {
      setStatus(e instanceof Error ? e.message : "Could not update it.");
    }
  };
  return (
    <>
      <h1 tabIndex={-1}>Callbacks to make</h1>
      <p role="status" class="status">
        {status}
      </p>
      <Loaded state={state}>
        {({ callbacks }) =>
          callbacks.length === 0 ? (
            <p class="empty">No callback is waiting. Requests from the callback widget appear here.</p>
          ) : (
            <Table label="Open callback requests">
              <thead>
                <tr>
                  <th scope="col">Phone</th>
                  <th scope="col">Preferred time</th>
                  <th scope="col">Contact</th>
                  <th scope="col">Requested</th>
                  <th scope="col">Action</th>
                </tr>
              </thead>
              <tbody>
                {callbacks.map((c) => (
                  <tr key={c.id}>
                    <th scope="row">
                      <a href={`tel:${c.phone}`}>{c.phone}</a>
                    </th>
                    <td>{c.time_window}</td>
                    <td>{c.name ?? c.email ?? "—"}</td>
                    <td>{dateTime(c.created_at)}</td>
                    <td>
                      <button
                        type="button"
                        onClick={() => done(c)}
                        aria-label={`Mark done: the callback to ${c.phone}`}
                      >
                        Mark done
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </Table>
          )
        }
      </Loaded>
    </>
  );
}
