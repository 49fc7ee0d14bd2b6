# The pusher's two protocols with real clients (graphql-ws, @directus/sdk,
# raw sockets): every message and close code, filters and views, limits.
cdc_e2e_test(protocols protocols.test.mjs TIMEOUT 180)
cdc_e2e_test(realtime realtime.test.mjs TIMEOUT 180)
cdc_e2e_test(views views.test.mjs TIMEOUT 180)
cdc_e2e_test(limits limits.test.mjs TIMEOUT 180)
