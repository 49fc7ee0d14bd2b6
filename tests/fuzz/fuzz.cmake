# Fuzz targets: libFuzzer binaries with CDC_FUZZ, corpus replays otherwise.
include(${CMAKE_CURRENT_LIST_DIR}/core.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/graphql.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/filter.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/auth.cmake OPTIONAL)
include(${CMAKE_CURRENT_LIST_DIR}/messages.cmake OPTIONAL)
