/// mimalloc, not glibc's malloc, which took ~15 % of the server's CPU on a launch's
/// path (docs/benchmarks.md, "The allocator: mimalloc instead of glibc's malloc").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    validibot::commands::main()
}
