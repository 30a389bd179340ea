// coreos-agent: every in-image agent in one static binary (the size budget), chosen by the name it
// is run as — /usr/bin/coreos-cloudinit, /usr/sbin/update_engine, /usr/bin/update_engine_client,
// /usr/lib/locksmith/locksmithd and /usr/bin/locksmithctl are links to it — or by its first argument. Standard library and C only, no Foundation.
#if canImport(Glibc)
import Glibc
#endif

let applets: [String: ([String]) -> Never] = [
    "coreos-cloudinit": CloudInit.main,
    "update_engine": UpdateEngineCommand.main,
    "update_engine_client": UpdateEngineClientCommand.main,
    "locksmithd": LocksmithdCommand.main,
    "locksmithctl": LocksmithctlCommand.main,
]

func log(_ message: String) {
    print(message)
    fflush(nil)
}

/// A usage error: the message on stderr, exit 2 (64 would be sysexits', but the originals use 1/2).
func usageError(_ program: String, _ message: String) -> Never {
    let line = Array("\(program): \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

let invokedAs = String(CommandLine.arguments.first?.split(separator: "/").last ?? "")
if let applet = applets[invokedAs] {
    applet(Array(CommandLine.arguments.dropFirst()))
} else if CommandLine.arguments.count > 1, let applet = applets[CommandLine.arguments[1]] {
    applet(Array(CommandLine.arguments.dropFirst(2)))
} else {
    usageError("coreos-agent", "run as one of \(applets.keys.sorted().joined(separator: ", ")) (a link, or the first argument)")
}
