# Identities and permissions: access tokens (auth.h), the permissions file
# (permissions.h), and cdc-token, which signs and checks tokens.
add_library(cdc_auth STATIC
  ${CMAKE_CURRENT_LIST_DIR}/auth.c
  ${CMAKE_CURRENT_LIST_DIR}/permissions.c
)
target_include_directories(cdc_auth PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(cdc_auth PUBLIC cdc_common PkgConfig::JANSSON
  PkgConfig::JWT PkgConfig::CRYPTO)
if(CDC_FUZZ)
  # Coverage for libFuzzer comes from the library's own code.
  target_compile_options(cdc_auth PRIVATE
    -fsanitize=fuzzer-no-link,address,undefined)
endif()

add_executable(cdc-token ${CMAKE_CURRENT_LIST_DIR}/token_main.c)
target_link_libraries(cdc-token PRIVATE cdc_auth)
