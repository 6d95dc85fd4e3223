import { useState } from "preact/hooks";
import { api, type SiteInfo } from "../api";
import { BarChart, daily } from "../chart";
import { count, money, percent } from "../format";
import { Loaded, PeriodPicker, periodQuery, Tiles, useData } from "../ui";

interface Overview {
  from: string;
  to: string;
  revenueRecovered: number;
  revenueInfluenced: number;
  orders: number;
  recoveredOrders: number;
  cartJourneys: number;
  recoveredJourneys: number;
  recoveryRate: number;
  messagesSent: number;
  days: { date: string; sent: number; influenced: number; recovered: number }[];
}

export function Overview({ site }: { site: SiteInfo }) {
  const [days, setDays] = useState("30");
  const state = useData(() => api<Overview>(`/v1/admin/dashboard/overview${periodQuery(days)}`), [days]);
  const cur = (v: number) => money(v, site.currency);
  return (
    <>
      <h1 tabIndex={-1}>Overview</h1>
      <PeriodPicker value={days} onChange={setDays} />
      <Loaded state={state}>
        {(o) => (
          <>
            <Tiles
              items={[
                ["Revenue recovered", cur(o.revenueRecovered), `${count(o.recoveredOrders)} abandoned-cart orders`],
                ["Revenue influenced", cur(o.revenueInfluenced), "orders credited to any campaign"],
                ["Orders", count(o.orders)],
                [
                  "Recovery rate",
                  percent(o.recoveryRate),
                  `${count(o.recoveredJourneys)} of ${count(o.cartJourneys)} carts reminded`,
                ],
                ["Messages sent", count(o.messagesSent)],
              ]}
            />
            <BarChart
              title="Revenue influenced per day"
              points={daily(o.days, (d) => d.influenced, o.from, o.to)}
              format={cur}
            />
            <BarChart
              title="Messages sent per day"
              points={daily(o.days, (d) => d.sent, o.from, o.to)}
              format={count}
            />
            <p class="note">
              Revenue counts orders credited to a campaign's message (last touch within its attribution window),
              held-out contacts excluded. For what a campaign <em>caused</em>, compare it with its holdout on its
              results page.
            </p>
          </>
        )}
      </Loaded>
    </>
  );
}
