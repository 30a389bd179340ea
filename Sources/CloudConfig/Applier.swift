#if canImport(Glibc)
import Glibc
#endif
// The command runner the applier takes is part of this module's interface.
@_exported import Posix

/// Applies a cloud-config to a machine in coreos-cloudinit's order (spec §3.1): hostname, users,
/// core's SSH keys, files, then units. A step that fails is logged and the rest still runs (as
/// Flatcar does), so one bad entry never keeps the machine from booting; `failures` lists them.
public final class Applier {
    public let files: MachineFiles
    public let commands: CommandRunner
    public let log: (String) -> Void
    /// The key set `ssh_authorized_keys` replaces for `core` (upstream's `--ssh-key-name`).
    public var keySetName = "coreos-cloudinit"
    /// Only on the running machine: sethostname(2) and account lookups through the real databases.
    public var isLiveSystem: Bool { files.root.isEmpty }
    public private(set) var failures: [String] = []

    public init(files: MachineFiles, commands: CommandRunner, log: @escaping (String) -> Void) {
        self.files = files
        self.commands = commands
        self.log = log
    }

    public func apply(_ config: CloudConfig) {
        if let hostname = config.hostname { attempt("set hostname") { try setHostname(hostname) } }
        for user in config.users { attempt("create or update user \(user.name)") { try applyUser(user) } }
        // Keys under a user named core are merged with the top-level ones, as Flatcar does.
        let coreKeys = config.sshAuthorizedKeys + (config.users.first { $0.name == "core" }?.sshAuthorizedKeys ?? [])
        if !coreKeys.isEmpty {
            attempt("write SSH keys for core") { try keySets(for: "core").replace(set: keySetName, with: unique(coreKeys)) }
        }
        for file in config.writeFiles { attempt("write \(file.path)") { try writeFile(file) } }
        writeGeneratedFiles(config)
        // networkd may already have started with the files it found; a static address written
        // here must reach it (networkd reads its configuration only when it starts).
        let writesNetworkConfiguration = config.writeFiles.contains { file in
            let path = SystemPath.clean(file.path)
            return path.hasPrefix("/etc/systemd/network/") || path.hasPrefix("/run/systemd/network/")
        }
        processUnits(units(for: config), restartNetworkd: writesNetworkConfiguration)
    }

    // MARK: Steps

    func setHostname(_ hostname: String) throws(ApplyError) {
        guard (1...64).contains(hostname.utf8.count),
              hostname.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }) else {
            throw ApplyError("invalid hostname \"\(hostname)\"")
        }
        try files.write("/etc/hostname", text: hostname + "\n")
        if isLiveSystem, sethostname(hostname, hostname.utf8.count) != 0 {
            throw ApplyError("sethostname: \(MachineFiles.reason())")
        }
        log("Set hostname to \(hostname)")
    }

    func applyUser(_ user: User) throws(ApplyError) {
        if account(user.name) != nil {
            // Existing users only get a new password and keys (spec §1.4).
            if let hash = user.passwordHash {
                try run(["chpasswd", "-e"], input: Array("\(user.name):\(hash)\n".utf8))
            }
        } else {
            var arguments = ["useradd"]
            arguments += ["--password", user.passwordHash ?? "*"]
            if let gecos = user.gecos { arguments += ["--comment", gecos] }
            if let home = user.homeDirectory { arguments += ["--home-dir", home] }
            arguments.append(user.noCreateHome ? "--no-create-home" : "--create-home")
            if let group = user.primaryGroup { arguments += ["--gid", group] }
            if !user.groups.isEmpty { arguments += ["--groups", user.groups.joined(separator: ",")] }
            if user.noUserGroup { arguments.append("--no-user-group") }
            if user.system { arguments.append("--system") }
            if user.noLogInit { arguments.append("--no-log-init") }
            if let shell = user.shell { arguments += ["--shell", shell] }
            try run(arguments + [user.name])
            log("Created user \(user.name)")
        }
        if !user.sshAuthorizedKeys.isEmpty, user.name != "core" {
            try keySets(for: user.name).replace(set: keySetName, with: user.sshAuthorizedKeys)
        }
    }

    func writeFile(_ file: WriteFile) throws(ApplyError) {
        guard !file.path.isEmpty else { throw ApplyError("a write_files entry has no path") }
        guard let content = file.content else { throw ApplyError("content cannot be decoded as \"\(file.encoding)\"") }
        guard let mode = file.mode else { throw ApplyError("invalid permissions \(file.permissions ?? "")") }
        let owner = try file.owner.map(Owner.resolve)
        try files.write(file.path, content, mode: mode, owner: owner)
        log("Wrote \(SystemPath.clean(file.path))")
    }

    func writeGeneratedFiles(_ config: CloudConfig) {
        if let release = GeneratedFiles.oemRelease(config.oem) {
            attempt("write /etc/oem-release") { try files.write("/etc/oem-release", text: release) }
        }
        let base = files.readText("/etc/coreos/update.conf") ?? files.readText("/usr/share/coreos/update.conf")
        if let update = GeneratedFiles.updateConf(base: base, update: config.update) {
            attempt("write /etc/coreos/update.conf") { try files.write("/etc/coreos/update.conf", text: update) }
        }
        if let hostsPolicy = config.manageEtcHosts {
            attempt("write /etc/hosts") {
                guard hostsPolicy == "localhost" else { throw ApplyError("Invalid option to manage_etc_hosts") }
                let name = config.hostname ?? currentHostname()
                try files.write("/etc/hosts", text: "127.0.0.1 \(name)\n")
            }
        }
        if let options = GeneratedFiles.flannelOptions(config.flannel) {
            attempt("write /run/flannel/options.env") { try files.write("/run/flannel/options.env", text: options) }
        }
    }

    /// `coreos.units` in document order, then the runtime entries for etcd, etcd2, fleet and
    /// locksmith (with their drop-ins when set), then what `coreos.update` implies (spec §3.1).
    func units(for config: CloudConfig) -> [Unit] {
        var units = config.units
        let dropIn = GeneratedFiles.dropInName
        let sections: [(String, String?)] = [
            ("etcd.service", GeneratedFiles.etcdDropIn(config.etcd)),
            ("etcd2.service", config.etcd2.isEmpty ? nil : GeneratedFiles.dropIn(config.etcd2.environment)),
            ("fleet.service", config.fleet.isEmpty ? nil : GeneratedFiles.dropIn(config.fleet.environment)),
            ("locksmithd.service", config.locksmith.isEmpty ? nil : GeneratedFiles.dropIn(config.locksmith.environment)),
        ]
        for (name, content) in sections {
            units.append(Unit(name: name, runtime: true, dropIns: content.map { [.init(name: dropIn, content: $0)] } ?? []))
        }
        if let strategy = config.update["reboot_strategy"] {
            units.append(strategy == RebootStrategy.off.rawValue
                ? Unit(name: "locksmithd.service", runtime: true, mask: true, command: "stop")
                : Unit(name: "locksmithd.service", runtime: true, command: "restart"))
        }
        if config.update["group"] != nil || config.update["server"] != nil {
            units.append(Unit(name: "update-engine.service", command: "restart"))
        }
        return units
    }

    /// Two passes, as coreos-cloudinit: files, masks and enables first; then one daemon-reload,
    /// one networkd restart and the commands in order, each waiting for its job (spec §3.2).
    func processUnits(_ units: [Unit], restartNetworkd: Bool = false) {
        var reload = false
        var restartNetworkd = restartNetworkd
        var queued: [(command: String, unit: String)] = []
        for unit in units {
            attempt("write unit \(unit.name)") {
                let path = "\(unit.directory)/\(unit.name)"
                if let content = unit.content {
                    try files.write(path, text: content)
                    reload = true
                }
                for dropIn in unit.dropIns {
                    try files.write("\(path).d/\(dropIn.name)", text: dropIn.content)
                    reload = true
                }
                if unit.mask {
                    try files.symlink(path, to: "/dev/null")
                    log("Masked \(unit.name)")
                } else if unit.runtime {
                    unmask(unit)
                }
                if unit.enable, !unit.isNetworkUnit {
                    try run(["systemctl", "enable", "--force"] + (unit.runtime ? ["--runtime"] : []) + [unit.name])
                }
            }
            if unit.isNetworkUnit { restartNetworkd = true }
            else if let command = unit.command { queued.append((command, unit.name)) }
        }
        if reload { attempt("reload systemd") { try run(["systemctl", "daemon-reload"]) } }
        if restartNetworkd {
            attempt("restart systemd-networkd") { try run(["systemctl", "restart", "systemd-networkd.service"]) }
        }
        for (command, unit) in queued {
            attempt("\(command) \(unit)") {
                guard UnitCommand(rawValue: command) != nil else { throw ApplyError("invalid command \(command)") }
                try run(["systemctl", "--job-mode=replace", command, unit])
                log("\(command) \(unit): done")
            }
        }
    }

    /// Removes a runtime mask: only an empty file or a link to /dev/null, never a real unit.
    func unmask(_ unit: Unit) {
        let path = "/run/systemd/\(unit.isNetworkUnit ? "network" : "system")/\(unit.name)"
        if files.linkTarget(path) == "/dev/null" || files.fileSize(path) == 0 {
            files.remove(path)
            log("Unmasked \(unit.name)")
        }
    }

    // MARK: Helpers

    private func attempt(_ what: String, _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            failures.append("\(what): \(error)")
            log("Failed to \(what): \(error)")
        }
    }

    private func run(_ arguments: [String], input: [UInt8]? = nil) throws(ApplyError) {
        let status = commands.run(arguments, input: input)
        if status != 0 { throw ApplyError("\(arguments.joined(separator: " ")) exited with status \(status)") }
    }

    private func account(_ name: String) -> (home: String, owner: Owner)? {
        guard let entry = getpwnam(name) else { return nil }
        return (String(cString: entry.pointee.pw_dir), Owner(uid: entry.pointee.pw_uid, gid: entry.pointee.pw_gid))
    }

    private func keySets(for user: String) throws(ApplyError) -> AuthorizedKeySets {
        guard let account = account(user) else { throw ApplyError("user \(user) does not exist") }
        return AuthorizedKeySets(files: files, home: account.home, owner: account.owner)
    }

    private func currentHostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private func unique(_ keys: [String]) -> [String] {
        var seen = Set<String>()
        return keys.map(AuthorizedKeySets.trimmed).filter { seen.insert($0).inserted }
    }
}
