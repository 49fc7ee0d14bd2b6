# Unit tests of the shared codec, the pgoutput decoder, the cursor codec and
# the JSON rendering.
cdc_unit_test(test_pgoutput
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_pgoutput.c
          ${CMAKE_CURRENT_LIST_DIR}/pgoutput_dump.c
  LIBS cdc_reader)
cdc_unit_test(test_codec
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_codec.c
  LIBS cdc_schemas PkgConfig::AVRO)
cdc_unit_test(test_wire
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_wire.c
  LIBS cdc_schemas)
cdc_unit_test(test_cursor
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_cursor.c
  LIBS cdc_pusher)
cdc_unit_test(test_render
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_render.c
  LIBS cdc_pusher)
cdc_unit_test(test_config
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_config.c
  LIBS cdc_common)

# Captures new golden files for test_pgoutput from a live database.
add_executable(capture_pgoutput
  ${CMAKE_CURRENT_LIST_DIR}/../tools/capture_pgoutput.c
  ${CMAKE_CURRENT_LIST_DIR}/pgoutput_dump.c)
target_include_directories(capture_pgoutput PRIVATE ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(capture_pgoutput PRIVATE cdc_reader)
set_target_properties(capture_pgoutput PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
