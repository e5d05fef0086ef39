# iofog_module(<name> [PREFIX <dir>] [LIBS <targets...>] [PROGRAMS <exe>=<main.c>...]
#              [SQL_PREFIX <c-prefix>] [NO_INSTALL])
#
# Builds one module directory the same way every time, so adding a module means adding a directory
# with a one-line CMakeLists.txt:
#   - every *.c below the directory except *_test.c, *_fuzz.c and program mains -> static library
#     iofog_<name> (skipped when there are none), include root = the project root, so headers are
#     included as "<module>/<file>.h";
#   - every *_test.c -> a cmocka executable registered with CTest, run from the project root with
#     IOFOG_TESTDATA_DIR pointing at ../shared/testdata;
#   - every <stem>_fuzz.c -> a libFuzzer executable fuzz_<name>_<stem> when IOFOG_FUZZ is on
#     (clang only); its seed corpus lives in <module>/fuzz-corpus/<stem>/;
#   - PROGRAMS name=path/main.c -> an executable linked with the module library, installed into
#     bin by `cmake --install` unless NO_INSTALL (tools that are not for users, e.g. benchmarks);
#   - <module>/sql/<backend>/NNNN_<name>.sql -> embedded into the library as the array
#     <SQL_PREFIX>_sql_<backend> (SQL_PREFIX defaults to the module name), see IofogEmbedSql.cmake.
include(IofogEmbedSql)

function(iofog_module name)
    cmake_parse_arguments(M "NO_INSTALL" "SQL_PREFIX" "LIBS;PROGRAMS;TEST_LIBS" ${ARGN})
    set(dir "${CMAKE_CURRENT_SOURCE_DIR}")

    file(GLOB_RECURSE all_sources CONFIGURE_DEPENDS "${dir}/*.c")
    set(lib_sources "")
    set(test_sources "")
    set(fuzz_sources "")
    set(mains "")
    foreach(p IN LISTS M_PROGRAMS)
        string(REPLACE "=" ";" pair "${p}")
        list(GET pair 1 main)
        list(APPEND mains "${dir}/${main}")
    endforeach()
    foreach(src IN LISTS all_sources)
        if(src MATCHES "_test\\.c$")
            list(APPEND test_sources "${src}")
        elseif(src MATCHES "_fuzz\\.c$")
            list(APPEND fuzz_sources "${src}")
        elseif(NOT src IN_LIST mains)
            list(APPEND lib_sources "${src}")
        endif()
    endforeach()

    if(IS_DIRECTORY "${dir}/sql")
        if(NOT M_SQL_PREFIX)
            set(M_SQL_PREFIX ${name})
        endif()
        iofog_embed_sql(sql_sources ${name} "${dir}/sql" ${M_SQL_PREFIX})
        list(APPEND lib_sources ${sql_sources})
    endif()

    set(lib iofog_${name})
    if(lib_sources)
        if(IOFOG_FUZZ)
            set(extra_flags -fsanitize=fuzzer-no-link)
        endif()
        add_library(${lib} STATIC ${lib_sources})
        target_include_directories(${lib} PUBLIC "${PROJECT_SOURCE_DIR}")
        target_compile_options(${lib} PRIVATE ${IOFOG_C_FLAGS} ${extra_flags})
        target_link_libraries(${lib} PUBLIC ${M_LIBS} Threads::Threads)
        set(link ${lib})
    else()
        set(link ${M_LIBS})
    endif()

    foreach(p IN LISTS M_PROGRAMS)
        string(REPLACE "=" ";" pair "${p}")
        list(GET pair 0 exe)
        list(GET pair 1 main)
        add_executable(${exe} "${dir}/${main}")
        target_compile_options(${exe} PRIVATE ${IOFOG_C_FLAGS})
        target_include_directories(${exe} PRIVATE "${PROJECT_SOURCE_DIR}")
        target_link_libraries(${exe} PRIVATE ${link})
        if(NOT M_NO_INSTALL)
            install(TARGETS ${exe} RUNTIME DESTINATION bin)
        endif()
    endforeach()

    if(IOFOG_TESTS)
        foreach(src IN LISTS test_sources)
            get_filename_component(tname "${src}" NAME_WE)
            set(exe ${name}_${tname})
            string(REGEX REPLACE "^${name}_${name}_" "${name}_" exe "${exe}")
            add_executable(${exe} "${src}")
            target_compile_options(${exe} PRIVATE ${IOFOG_C_FLAGS})
            target_include_directories(${exe} PRIVATE "${PROJECT_SOURCE_DIR}")
            target_compile_definitions(${exe} PRIVATE
                IOFOG_TESTDATA_DIR="${PROJECT_SOURCE_DIR}/../shared/testdata"
                IOFOG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
                IOFOG_BINARY_DIR="${PROJECT_BINARY_DIR}")
            target_link_libraries(${exe} PRIVATE ${link} ${M_TEST_LIBS} PkgConfig::cmocka)
            add_test(NAME ${exe} COMMAND ${exe} WORKING_DIRECTORY "${PROJECT_SOURCE_DIR}")
            set_tests_properties(${exe} PROPERTIES TIMEOUT 120 LABELS "${name}")
        endforeach()
    endif()

    if(IOFOG_FUZZ)
        foreach(src IN LISTS fuzz_sources)
            get_filename_component(fname "${src}" NAME_WE)
            string(REGEX REPLACE "_fuzz$" "" stem "${fname}")
            set(exe fuzz_${name}_${stem})
            string(REGEX REPLACE "^fuzz_${name}_${name}_" "fuzz_${name}_" exe "${exe}")
            add_executable(${exe} "${src}")
            target_compile_options(${exe} PRIVATE ${IOFOG_C_FLAGS} -fsanitize=fuzzer)
            target_link_options(${exe} PRIVATE -fsanitize=fuzzer)
            target_include_directories(${exe} PRIVATE "${PROJECT_SOURCE_DIR}")
            target_link_libraries(${exe} PRIVATE ${link})
        endforeach()
    endif()
endfunction()
