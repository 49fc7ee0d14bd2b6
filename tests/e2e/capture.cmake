# What cdc-reader captures, read back by an independent Avro consumer:
# every type family against PostgreSQL's own text, every kind of change,
# and table changes while streaming.
cdc_e2e_test(types types.test.mjs TIMEOUT 180)
cdc_e2e_test(changes changes.test.mjs TIMEOUT 180)
cdc_e2e_test(schema-changes schema-changes.test.mjs TIMEOUT 180)
