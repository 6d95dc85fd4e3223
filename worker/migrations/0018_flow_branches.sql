-- Branching steps (`if` … `then` / `else`) and `waitUntil` steps are rows of `messages` like any
-- step (channel 'branch' or 'wait'), claimed by the sweep when due and never delivered. `branch`
-- records the way the journey went ('then' or 'else') — for holdout contacts too, so the control
-- group is followed along the same branches. It is set once: the next step is scheduled only in
-- the transaction that set it.
ALTER TABLE messages ADD COLUMN branch TEXT;
