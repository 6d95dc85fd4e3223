-- RFM scores (issue 18): recency, frequency and monetary quintiles (1–5) of each customer among the
-- site's customers, recomputed by the scheduler at most once a day per site (segments/rfm.ts).
-- NULL: no order, or not computed yet. Kept on the contact row, so a segment reads them with no
-- join, and export and erasure cover them with the contact.
ALTER TABLE contacts ADD COLUMN rfm_r INTEGER;
ALTER TABLE contacts ADD COLUMN rfm_f INTEGER;
ALTER TABLE contacts ADD COLUMN rfm_m INTEGER;
-- When each site's scores were last recomputed.
CREATE TABLE rfm_runs (
  site_id     TEXT NOT NULL PRIMARY KEY,
  computed_at INTEGER NOT NULL
) WITHOUT ROWID;
