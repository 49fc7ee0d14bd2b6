# The reader through faults and in operation: kill -9 at random moments,
# PostgreSQL restarts and broker outages with exactly-once checks, the
# initial snapshot under concurrent writes, large transactions, standby
# take-over, heartbeats, metrics, clean stops and schema id durability.
cdc_e2e_test(faults faults.test.mjs TIMEOUT 400)
cdc_e2e_test(snapshot snapshot.test.mjs TIMEOUT 300)
cdc_e2e_test(reader-ops reader-ops.test.mjs TIMEOUT 300)
