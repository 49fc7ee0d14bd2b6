# Unit test programs, one per decoder, codec, parser and evaluator.
include(${CMAKE_CURRENT_LIST_DIR}/core.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/graphql.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/filter.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/auth.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/pgtype.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/reader.cmake OPTIONAL)
