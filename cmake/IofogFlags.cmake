# Compiler flags for every target: strict warnings, hardening, optional sanitizers.
include(CheckCCompilerFlag)

set(IOFOG_WARNINGS
    -Wall -Wextra -Wshadow -Wconversion -Wsign-conversion -Wformat=2 -Wvla -Wwrite-strings
    -Wstrict-prototypes -Wmissing-prototypes -Wold-style-definition -Wundef
    -Wimplicit-fallthrough -Wredundant-decls -Wcast-qual -Wnull-dereference
    -Werror=implicit-function-declaration -Werror=incompatible-pointer-types -Werror=int-conversion)

set(IOFOG_C_FLAGS "")
foreach(flag IN LISTS IOFOG_WARNINGS)
    string(MAKE_C_IDENTIFIER "HAVE_FLAG${flag}" var)
    check_c_compiler_flag("${flag}" ${var})
    if(${var})
        list(APPEND IOFOG_C_FLAGS "${flag}")
    endif()
endforeach()
if(IOFOG_WERROR)
    list(APPEND IOFOG_C_FLAGS -Werror)
endif()

add_compile_definitions(_GNU_SOURCE IOFOG_VERSION="${PROJECT_VERSION}")
list(APPEND IOFOG_C_FLAGS -fvisibility=hidden)

if(CMAKE_BUILD_TYPE STREQUAL "Debug")
    set(IOFOG_SANITIZE ON)
endif()
if(IOFOG_SANITIZE)
    add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    add_link_options(-fsanitize=address,undefined)
else()
    foreach(flag -fstack-protector-strong -fstack-clash-protection -fcf-protection)
        string(MAKE_C_IDENTIFIER "HAVE_FLAG${flag}" var)
        check_c_compiler_flag("${flag}" ${var})
        if(${var})
            add_compile_options(${flag})
        endif()
    endforeach()
    if(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
        add_compile_definitions(_FORTIFY_SOURCE=2)
    endif()
    add_link_options(-Wl,-z,relro,-z,now,-z,noexecstack)
endif()
