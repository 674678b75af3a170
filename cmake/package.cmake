# The installed package: `cmake --install build --prefix P` gives P/include, P/lib (static
# libraries), P/bin (the programs), P/lib/cmake/xgate (find_package(xgate): xgate::reflect,
# xgate::xmlcodec, xgate::store, xgate::results, xgate::client, xgate::channel, xgate::migrate,
# and what they need: xgate::base, xgate::tls, xgate::server, xgate::nodes) and
# P/lib/pkgconfig/xgate-xmlcodec.pc (the codec alone, for builds without CMake).
include(CMakePackageConfigHelpers)
set(XGATE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/xgate)

install(EXPORT xgateTargets NAMESPACE xgate:: DESTINATION ${XGATE_CMAKE_DIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/xgateConfig.cmake.in
  ${PROJECT_BINARY_DIR}/generated/xgateConfig.cmake INSTALL_DESTINATION ${XGATE_CMAKE_DIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/generated/xgateConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/generated/xgateConfig.cmake ${PROJECT_BINARY_DIR}/generated/xgateConfigVersion.cmake
  ${CMAKE_CURRENT_LIST_DIR}/xgateJobLibrary.cmake DESTINATION ${XGATE_CMAKE_DIR})

configure_file(${CMAKE_CURRENT_LIST_DIR}/xgate-xmlcodec.pc.in ${PROJECT_BINARY_DIR}/generated/xgate-xmlcodec.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/generated/xgate-xmlcodec.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
