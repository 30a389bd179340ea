#if canImport(Glibc)
import Glibc
#endif
import Etcd
import Locksmith
import Posix
import UpdateAgent

/// locksmithd and locksmithctl read their settings from the environment, as the originals do:
/// `REBOOT_STRATEGY` and `TIME_SCALE` (update.conf, the unit's EnvironmentFile), the
/// `<PREFIX>_REBOOT_WINDOW_*` (or unprefixed), `<PREFIX>_ENDPOINT`, `<PREFIX>_GROUP` and
/// `<PREFIX>_LOCK_TTL` (seconds a holder that never comes back keeps its slot; 1800).
struct LocksmithEnvironment {
    let prefix: String

    func value(_ name: String) -> String? {
        for key in ["\(prefix)_\(name)", name] { if let value = getenv(key) { return String(cString: value) } }
        return nil
    }

    var endpoints: [String] {
        let list = value("ENDPOINT").map { $0.split(separator: ",").map { String($0) } } ?? []
        return list.isEmpty ? ["http://127.0.0.1:2379", "http://127.0.0.1:4001"] : list
    }

    var lock: EtcdRebootLock {
        EtcdRebootLock(client: EtcdClient(endpoints: endpoints), group: value("GROUP"),
                       leaseTTL: value("LOCK_TTL").flatMap { Int($0) }.map { max(5, $0) } ?? 1800)
    }

    static var machineID: String {
        SystemFile.contents(of: "/etc/machine-id").map { String(decoding: $0, as: UTF8.self).filter { !$0.isWhitespace } } ?? ""
    }
}

enum LocksmithdCommand {
    static func main(_ arguments: [String]) -> Never {
        if let argument = arguments.first { usageError("locksmithd", "unknown argument \(argument) (it takes its settings from the environment)") }
        let environment = LocksmithEnvironment(prefix: "LOCKSMITHD")
        let settings: Locksmithd.Settings
        do {
            settings = Locksmithd.Settings(
                strategy: try RebootStrategy(setting: getenv("REBOOT_STRATEGY").map { String(cString: $0) }),
                window: try RebootWindow.parse(start: environment.value("REBOOT_WINDOW_START"), length: environment.value("REBOOT_WINDOW_LENGTH")),
                timeScale: environment.value("TIME_SCALE").flatMap { Double($0) }.map { min(max($0, 1), 3600) } ?? 1)
        } catch {
            log("locksmithd: \(error)")
            exit(1)
        }
        let commandLine = SystemFile.contents(of: "/proc/cmdline").map { String(decoding: $0, as: UTF8.self) } ?? ""
        let daemon = Locksmithd(settings: settings, machineID: LocksmithEnvironment.machineID,
                                lock: settings.strategy == .etcdLock ? environment.lock : nil,
                                bootIsGood: { (try? LiveDisk(commandLine: commandLine))?.booted.attributes.successful ?? false },
                                reboot: { _ = SpawnedCommands().run(["systemctl", "reboot"], input: nil) }, log: log)
        daemon.run()
    }
}

/// locksmithctl's commands and output (§3.5).
enum LocksmithctlCommand {
    static let usage = "usage: locksmithctl [--endpoint URL[,URL]] [--group G] status | lock [ID] | unlock [ID] | set-max N"

    static func main(_ arguments: [String]) -> Never {
        var rest = arguments[...]
        var overrides: [String: String] = [:]
        while let first = rest.first, first.hasPrefix("-") {
            rest = rest.dropFirst()
            let flag = String(first.drop { $0 == "-" })
            let (name, inline) = flag.firstIndex(of: "=").map { (String(flag[..<$0]), String(flag[flag.index(after: $0)...])) } ?? (flag, nil)
            guard ["endpoint", "group"].contains(name), let value = inline ?? rest.popFirst() else {
                usageError("locksmithctl", "unknown option \(first)\n\(usage)")
            }
            overrides[name.uppercased()] = value
        }
        for (name, value) in overrides { setenv("LOCKSMITHCTL_\(name)", value, 1) }
        let lock = LocksmithEnvironment(prefix: "LOCKSMITHCTL").lock
        let command = rest.popFirst() ?? ""
        let id = rest.popFirst() ?? LocksmithEnvironment.machineID
        do {
            switch command {
            case "status":
                let semaphore = try lock.read().semaphore
                print("Available: \(semaphore.semaphore)\nMax: \(semaphore.max)")
                if !semaphore.holders.isEmpty { print("\nMACHINE ID\n" + semaphore.holders.joined(separator: "\n")) }
            case "lock":
                do { try lock.lock(id) } catch { print("Error locking: \(error)"); exit(1) }
            case "unlock":
                do { try lock.unlock(id) } catch { print("Error unlocking: \(error)"); exit(1) }
            case "set-max":
                guard let max = Int(id), max >= 0 else { usageError("locksmithctl", "set-max needs a number\n\(usage)") }
                let change = try lock.setMax(max)
                print("Old-Max: \(change.old)\nMax: \(change.new)")
            default:
                usageError("locksmithctl", command.isEmpty ? usage : "unknown command \(command)\n\(usage)")
            }
        } catch {
            print("Error: \(error)")
            exit(1)
        }
        exit(0)
    }
}
