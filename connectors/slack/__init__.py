"""slack connector: settings, capabilities, the destination, its error table, and the sandbox emulator."""
