/// mimalloc, not glibc's malloc: a launch allocates and frees thousands of small
/// buffers across threads (docs/benchmarks.md, "the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    validibot::commands::main()
}
