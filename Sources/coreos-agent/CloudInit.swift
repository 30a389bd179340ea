// coreos-cloudinit: applies the machine's cloud-config at every boot (recipes/coreos-cloudinit runs
// it on /usr/share/oem/cloud-config.yml).
#if canImport(Glibc)
import Glibc
#endif
import CloudConfig

struct Options {
    var file: String?
    var validateOnly = false
    var ignoreFailure = false
    var root = ""
    var keySetName = "coreos-cloudinit"

    static let usage = """
        usage: coreos-cloudinit --from-file FILE [--validate] [--ignore-failure] [--ssh-key-name NAME] [--root DIR]
          --from-file FILE     the user-data to apply (#cloud-config or a #! script)
          --validate           only report problems; exit 1 if there is an error
          --ignore-failure     exit 0 even when a step failed (the boot unit uses this)
          --ssh-key-name NAME  the key set ssh_authorized_keys replaces for core (default coreos-cloudinit)
          --root DIR           apply to a machine tree under DIR instead of this machine (no systemctl)
        """

    init(_ arguments: [String]) {
        // `--flag=value` (as units write it) is the same as `--flag value`.
        var rest = arguments.flatMap { argument -> [String] in
            guard argument.hasPrefix("-"), let equals = argument.firstIndex(of: "=") else { return [argument] }
            return [String(argument[..<equals]), String(argument[argument.index(after: equals)...])]
        }[...]
        func value(_ flag: String) -> String {
            guard let next = rest.popFirst() else { fail("\(flag) needs a value") }
            return next
        }
        while let argument = rest.popFirst() {
            switch argument {
            case "--from-file", "-from-file": file = value(argument)
            case "--validate", "-validate": validateOnly = true
            case "--ignore-failure", "-ignore-failure": ignoreFailure = true
            case "--ssh-key-name", "-ssh-key-name": keySetName = value(argument)
            case "--root": root = value(argument)
            case "--help", "-h": print(Self.usage); exit(0)
            default: fail("unknown argument \(argument)\n\(Self.usage)")
            }
        }
        if file == nil { fail("--from-file is required\n\(Self.usage)") }
    }
}

private func fail(_ message: String) -> Never { usageError("coreos-cloudinit", message) }

/// Values for `$private_ipv4` and friends: `COREOS_PRIVATE_IPV4` etc. from /etc/environment when
/// set, otherwise the machine's first global IPv4 address (there is no metadata service). The agent
/// runs early in the boot, so when the config uses an address it waits up to 60 s for DHCP.
func substitutionValues(for text: String) -> [String: String] {
    var values: [String: String] = [:]
    for token in Substitutions.tokens {
        if let value = getenv("COREOS_" + token.uppercased()) { values[token] = String(cString: value) }
    }
    let wanted = ["private_ipv4", "public_ipv4"].filter { values[$0] == nil && text.contains("$" + $0) }
    guard !wanted.isEmpty else { return values }
    var address = firstGlobalIPv4()
    for _ in 0..<120 where address == nil {
        usleep(500_000)
        address = firstGlobalIPv4()
    }
    if address == nil { log("No IPv4 address after 60 s; $private_ipv4 and $public_ipv4 become empty") }
    if let address {
        values["private_ipv4"] = values["private_ipv4"] ?? address
        values["public_ipv4"] = values["public_ipv4"] ?? address
    }
    return values
}

func firstGlobalIPv4() -> String? {
    var list: UnsafeMutablePointer<ifaddrs>?
    guard getifaddrs(&list) == 0 else { return nil }
    defer { freeifaddrs(list) }
    var entry = list
    while let current = entry {
        defer { entry = current.pointee.ifa_next }
        guard let address = current.pointee.ifa_addr, address.pointee.sa_family == sa_family_t(AF_INET) else { continue }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { ipv4 in
            var raw = ipv4.pointee.sin_addr
            _ = inet_ntop(AF_INET, &raw, &text, socklen_t(text.count))
        }
        let string = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if !string.hasPrefix("127.") { return string }
    }
    return nil
}

/// A `#!` user-data runs as a transient unit, after the configuration (spec §3.4).
func runScript(_ bytes: [UInt8], files: MachineFiles, commands: CommandRunner) -> Bool {
    let name = "coreos-cloudinit-\(getpid())-\(time(nil))"
    let path = "/var/lib/coreos-cloudinit/scripts/\(name)"
    do {
        try files.write(path, bytes, mode: 0o744)
        try files.write("/var/lib/coreos-cloudinit/scripts/unit-name", text: "\(name).service")
    } catch {
        log("Failed to save the script: \(error)")
        return false
    }
    return commands.run(["systemd-run", "--unit=\(name).service", "/bin/bash", path], input: nil) == 0
}

/// Used with `--root`: a scratch tree has no systemd to talk to.
struct SkippedCommands: CommandRunner {
    func run(_ arguments: [String], input: [UInt8]?) -> Int32 {
        log("Skipped (--root): \(arguments.joined(separator: " "))")
        return 0
    }
}

enum CloudInit {
    static func main(_ arguments: [String]) -> Never {
        let options = Options(arguments)
        let files = MachineFiles(root: options.root)
        let commands: CommandRunner = options.root.isEmpty ? SpawnedCommands() : SkippedCommands()
        guard let path = options.file, let raw = MachineFiles(root: "").read(path) else {
            log("Nothing to apply: cannot read \(options.file ?? "")")
            exit(options.validateOnly ? 1 : 0)
        }

        let report = Validator.validate(raw)
        for entry in report.entries { log("\(path): \(entry)") }
        if options.validateOnly { exit(report.hasErrors ? 1 : 0) }

        var failed = false
        switch UserData(raw) {
        case .empty:
            log("\(path) is empty; nothing to apply")
        case .ignition:
            log("Detected an Ignition config in \(path); nothing to apply")
        case .unrecognized:
            log("Failed to apply \(path): unrecognized user-data format")
            failed = true
        case .script(let bytes):
            failed = !runScript(bytes, files: files, commands: commands)
        case .cloudConfig(let text):
            let substituted = Substitutions(values: substitutionValues(for: text)).apply(to: text)
            do {
                let config = try CloudConfig(parsing: substituted)
                let applier = Applier(files: files, commands: commands, log: log)
                applier.keySetName = options.keySetName
                applier.apply(config)
                failed = !applier.failures.isEmpty
                log(failed ? "Applied \(path) with \(applier.failures.count) failure(s)" : "Applied \(path)")
            } catch {
                log("Failed to apply \(path): line \(error.line): \(error.message)")
                failed = true
            }
        }
        exit(failed && !options.ignoreFailure ? 1 : 0)
    }
}
