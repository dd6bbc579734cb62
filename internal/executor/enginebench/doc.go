// Package enginebench holds the executor's benchmarks, BenchmarkEngine and
// BenchmarkExecute, that `make bench` (internal/perf) sets beside
// shared/peers/eino-bench's. It has no code of its own.
//
// They live apart from internal/executor's tests so that their test binary holds
// what a chat Lambda holds and nothing more: the executor's own tests link rapid,
// whose rune tables stay live (≈1.1 MiB), and the garbage collector's marking of a
// live heap is paid per operation — in that binary it was a third of
// BenchmarkEngine's instructions, a cost no deployed function has. eino-bench's
// binary likewise holds its benchmark alone.
package enginebench
