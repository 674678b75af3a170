# The Debian package (`./x package`, `cpack` in the build tree): build/xgate_VERSION_ARCH.deb
# with the programs, their man pages and bash completion, the libraries, headers and CMake
# package, and the systemd units with their settings in /etc/xgate (packaging/).
#
# The units and /etc files are the `service` component, outside `cmake --install`'s default:
# their absolute paths belong to a package, not to a prefix.

# Man pages from the programs' own --help (help2man); without it they are left out, and a
# package is refused below.
find_program(XGATE_HELP2MAN help2man)
find_program(XGATE_GZIP gzip)
set(XGATE_MAN_DIR ${PROJECT_BINARY_DIR}/man)
set(xgate_man_pages "")
if(XGATE_HELP2MAN AND XGATE_GZIP)
  # The pages' date: the last commit's, so that a rebuild gives the same pages.
  execute_process(COMMAND git -C ${PROJECT_SOURCE_DIR} log -1 --format=%ct OUTPUT_VARIABLE xgate_source_date
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT xgate_source_date)
    string(TIMESTAMP xgate_source_date "%s" UTC)
  endif()
  set(xgate_summary_xgate "turn C++ object graphs into XML and back; use an xgate store")
  set(xgate_summary_xgated "serve an xgate store over HTTP, with the channel hub")
  set(xgate_summary_migrate "run migrate node daemons and move running jobs between them")
  foreach(program xgate xgated migrate)
    set(page ${XGATE_MAN_DIR}/${program}.1.gz)
    add_custom_command(OUTPUT ${page}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${XGATE_MAN_DIR}
      COMMAND ${CMAKE_COMMAND} -E env SOURCE_DATE_EPOCH=${xgate_source_date}
              ${XGATE_HELP2MAN} --no-info --no-discard-stderr "--name=${xgate_summary_${program}}"
              --output=${XGATE_MAN_DIR}/${program}.1 $<TARGET_FILE:${program}>
      COMMAND ${XGATE_GZIP} -9nf ${XGATE_MAN_DIR}/${program}.1
      DEPENDS ${program}
      COMMENT "Man page for ${program} (help2man)"
      VERBATIM)
    list(APPEND xgate_man_pages ${page})
  endforeach()
  add_custom_target(man_pages ALL DEPENDS ${xgate_man_pages})
  install(FILES ${xgate_man_pages} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
endif()

set(XGATE_PACKAGING ${PROJECT_SOURCE_DIR}/packaging)
foreach(program xgate xgated migrate)
  install(FILES ${XGATE_PACKAGING}/bash-completion/xgate DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
          RENAME ${program})
endforeach()

configure_file(${XGATE_PACKAGING}/debian/changelog.in ${PROJECT_BINARY_DIR}/generated/changelog @ONLY)
add_custom_command(OUTPUT ${PROJECT_BINARY_DIR}/generated/changelog.gz
  COMMAND ${XGATE_GZIP} -9nc ${PROJECT_BINARY_DIR}/generated/changelog > ${PROJECT_BINARY_DIR}/generated/changelog.gz
  DEPENDS ${PROJECT_BINARY_DIR}/generated/changelog VERBATIM)
add_custom_target(debian_changelog ALL DEPENDS ${PROJECT_BINARY_DIR}/generated/changelog.gz)
install(FILES ${XGATE_PACKAGING}/debian/copyright ${PROJECT_BINARY_DIR}/generated/changelog.gz
        DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/xgate COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${XGATE_PACKAGING}/systemd/xgated.service ${XGATE_PACKAGING}/systemd/xgate-node@.service
        DESTINATION /lib/systemd/system COMPONENT service EXCLUDE_FROM_ALL)
install(FILES ${XGATE_PACKAGING}/etc/xgated.conf ${XGATE_PACKAGING}/etc/node.conf.example
        DESTINATION /etc/xgate COMPONENT service EXCLUDE_FROM_ALL)

set(CPACK_PACKAGE_NAME xgate)
set(CPACK_PACKAGE_VENDOR "the xgate developers")
set(CPACK_PACKAGE_CONTACT "xgate developers <maintainers@xgate.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "self-describing XML for C++ object graphs, a store, and jobs that move")
# CPack puts the summary first and indents these lines; an empty line becomes " .".
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "xgate turns live C++ object graphs into self-describing XML and back, keeps the
documents in a store served over HTTP (xgated, with a message hub), and moves
running jobs between nodes by checkpointing their state (migrate).

This package holds the programs with their systemd units (xgated.service,
xgate-node@.service), man pages and bash completion, and the C++ libraries,
headers and CMake package (find_package(xgate)).")
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
# Every component in one package; the default one holds the programs, libraries and headers.
set(CPACK_COMPONENTS_ALL Unspecified service)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${XGATE_PACKAGING}/debian/postinst ${XGATE_PACKAGING}/debian/prerm
    ${XGATE_PACKAGING}/debian/postrm ${PROJECT_BINARY_DIR}/generated/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
file(WRITE ${PROJECT_BINARY_DIR}/generated/conffiles "/etc/xgate/xgated.conf\n/etc/xgate/node.conf.example\n")
set(CPACK_STRIP_FILES ON)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")
include(CPack)
