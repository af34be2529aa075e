-- Room on each page for a delivery's claim (claim, claimed_until: no index covers them) to be a
-- heap-only update, so claiming a chunk adds no index entries. Pages written from now on.
ALTER TABLE "deliveries" SET (fillfactor = 70);
