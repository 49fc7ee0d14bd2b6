# The filter language: Directus filters compiled against a table schema and
# evaluated on typed rows (see filter.h).
add_library(cdc_filter STATIC
  ${CMAKE_CURRENT_LIST_DIR}/filter_parse.c
  ${CMAKE_CURRENT_LIST_DIR}/filter_value.c
  ${CMAKE_CURRENT_LIST_DIR}/filter_fold.c
  ${CMAKE_CURRENT_LIST_DIR}/filter_eval.c
)
target_include_directories(cdc_filter PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cdc_filter PUBLIC cdc_schemas PkgConfig::JANSSON)
if(CDC_FUZZ)
  # Coverage for libFuzzer comes from the library's own code.
  target_compile_options(cdc_filter PRIVATE
    -fsanitize=fuzzer-no-link,address,undefined)
endif()

# Prints nanoseconds per evaluation for a few typical filters.
add_executable(filter_bench ${CMAKE_SOURCE_DIR}/ops/bench/filter_bench.c)
target_link_libraries(filter_bench PRIVATE cdc_filter)
set_target_properties(filter_bench PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
