# The WebSocket message handlers of both protocols (gqlws_message and
# realtime_message) on a pusher without Kafka or sockets.
cdc_fuzz_target(fuzz_messages ${CMAKE_CURRENT_LIST_DIR}/fuzz_messages.c
  LIBS cdc_pusher)
