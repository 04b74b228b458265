fn main() -> anyhow::Result<()> {
    validibot::commands::main()
}
