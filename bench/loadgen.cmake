# ferry_loadgen: the closed-loop HTTP/1.1 load generator of the serving benchmarks (bench/serve_bench.sh).
# Included from bench/CMakeLists.txt. Plain sockets and threads: it links nothing of Ferry's.
add_executable(ferry_loadgen ${CMAKE_CURRENT_LIST_DIR}/loadgen.cc)
target_link_libraries(ferry_loadgen PRIVATE Threads::Threads)
