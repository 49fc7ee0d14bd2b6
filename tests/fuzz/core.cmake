# The reader's decoders, the shared Avro codec and schema reader, and the
# pusher's cursor decoder.
cdc_fuzz_target(fuzz_pgoutput ${CMAKE_CURRENT_LIST_DIR}/fuzz_pgoutput.c
  LIBS cdc_reader)
cdc_fuzz_target(fuzz_pgtype ${CMAKE_CURRENT_LIST_DIR}/fuzz_pgtype.c
  LIBS cdc_reader)
cdc_fuzz_target(fuzz_codec ${CMAKE_CURRENT_LIST_DIR}/fuzz_codec.c
  LIBS cdc_schemas)
cdc_fuzz_target(fuzz_schema ${CMAKE_CURRENT_LIST_DIR}/fuzz_schema.c
  LIBS cdc_schemas)
cdc_fuzz_target(fuzz_cursor ${CMAKE_CURRENT_LIST_DIR}/fuzz_cursor.c
  LIBS cdc_pusher)
