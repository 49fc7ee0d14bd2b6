# The GraphQL front end: lexer and parser, the schema derived from our
# collections, validation, and subscription plans.
add_library(cdc_graphql STATIC
  ${CMAKE_CURRENT_LIST_DIR}/graphql_parse.c
  ${CMAKE_CURRENT_LIST_DIR}/graphql_schema.c
  ${CMAKE_CURRENT_LIST_DIR}/graphql_validate.c
  ${CMAKE_CURRENT_LIST_DIR}/graphql_plan.c
)
target_include_directories(cdc_graphql PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cdc_graphql PUBLIC cdc_schemas PkgConfig::JANSSON)
target_link_libraries(cdc_graphql PRIVATE m)
