# Third-party libraries, all from Debian packages, found through pkg-config.
# Each becomes an imported target PkgConfig::<name> that modules list in LIBS.
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)

pkg_check_modules(jansson REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(mhd REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(curl REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(crypto REQUIRED IMPORTED_TARGET libcrypto)
pkg_check_modules(sqlite3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(libpq REQUIRED IMPORTED_TARGET libpq)
pkg_check_modules(argon2 REQUIRED IMPORTED_TARGET libargon2)
pkg_check_modules(yaml REQUIRED IMPORTED_TARGET yaml-0.1)
pkg_check_modules(nats REQUIRED IMPORTED_TARGET libnats)
pkg_check_modules(zlib REQUIRED IMPORTED_TARGET zlib)
if(IOFOG_TESTS)
    pkg_check_modules(cmocka REQUIRED IMPORTED_TARGET cmocka)
endif()

# Debian's wslay has no pkg-config file and its CMake package refers to files it does not ship,
# so it is found by hand.
find_path(WSLAY_INCLUDE_DIR wslay/wslay.h REQUIRED)
find_library(WSLAY_LIBRARY wslay REQUIRED)
add_library(iofog_dep_wslay INTERFACE)
target_include_directories(iofog_dep_wslay INTERFACE "${WSLAY_INCLUDE_DIR}")
target_link_libraries(iofog_dep_wslay INTERFACE "${WSLAY_LIBRARY}")
add_library(PkgConfig::wslay ALIAS iofog_dep_wslay)
