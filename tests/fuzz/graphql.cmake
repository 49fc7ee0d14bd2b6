# The GraphQL front end: gql_parse and gql_compile on arbitrary input.
if(CDC_FUZZ)
  # Built from the library's sources so libFuzzer sees their coverage.
  cdc_fuzz_target(fuzz_graphql ${CMAKE_CURRENT_LIST_DIR}/fuzz_graphql.c
    LIBS cdc_schemas PkgConfig::JANSSON m)
  get_target_property(cdc_graphql_sources cdc_graphql SOURCES)
  target_sources(fuzz_graphql PRIVATE ${cdc_graphql_sources})
  target_include_directories(fuzz_graphql PRIVATE
    $<TARGET_PROPERTY:cdc_graphql,INTERFACE_INCLUDE_DIRECTORIES>)
else()
  cdc_fuzz_target(fuzz_graphql ${CMAKE_CURRENT_LIST_DIR}/fuzz_graphql.c
    LIBS cdc_graphql)
endif()
