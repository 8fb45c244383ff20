-- Every delivery attempt counts, even one whose outcome was never recorded. A message is `leased` from its claim
-- until its attempt is recorded (or it is given back unsent); a claim that finds it still leased knows the
-- previous holder stopped, or could not write, without recording anything, and counts that attempt then. So no
-- failure to record an outcome (a dispatcher killed mid-attempt, bytes the database refuses) can send a message
-- again and again past its retry schedule: the claims themselves use the schedule up.

alter table messages add column leased boolean not null default false;
