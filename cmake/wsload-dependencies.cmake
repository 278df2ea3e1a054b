# The dependencies of wsload::wsload, shared by the build tree and the installed package.
include(CMakeFindDependencyMacro)
set(THREADS_PREFER_PTHREAD_FLAG ON)
find_dependency(Threads)
find_dependency(Boost 1.74)
find_dependency(OpenSSL 1.1.1)
find_dependency(nlohmann_json 3.9)
find_dependency(ZLIB)
