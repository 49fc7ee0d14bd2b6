# Trust and continuity of the pusher: identity and permissions, cursors
# and replays, and 50 clients through a pusher killed and replaced.
cdc_e2e_test(trust trust.test.mjs TIMEOUT 240)
cdc_e2e_test(cursors cursors.test.mjs TIMEOUT 240)
cdc_e2e_test(continuity continuity.test.mjs TIMEOUT 240)
