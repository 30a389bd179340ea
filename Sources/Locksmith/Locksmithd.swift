#if canImport(Glibc)
import Glibc
#endif
import Posix
import UpdateAgent

/// Where a reboot slot is taken and given back: etcd's semaphore (`EtcdRebootLock`).
public protocol RebootLock {
    /// Takes a slot for `id`; holding one already counts as taken.
    func lock(_ id: String) throws
    /// Gives `id`'s slot back; not holding one counts as given back.
    func unlock(_ id: String) throws
    func holds(_ id: String) throws -> Bool
    /// Keeps `id`'s claim alive while its machine is up (the lease that expires a holder that
    /// never comes back).
    func refresh(_ id: String) throws
}

/// locksmithd (spec update-agent.md §3.1): waits for update_engine's UPDATED_NEED_REBOOT, then
/// reboots per strategy — inside the window, and with `etcd-lock` only while holding a slot of the
/// cluster's semaphore. Better than the original, a slot is given back only once the new boot is
/// marked good, and a holder that never comes back loses its slot when its lease runs out.
public final class Locksmithd {
    public struct Settings: Sendable {
        public var strategy: RebootStrategy
        public var window: RebootWindow?
        public var timeScale: Double
        public init(strategy: RebootStrategy, window: RebootWindow?, timeScale: Double) {
            self.strategy = strategy
            self.window = window
            self.timeScale = timeScale
        }
    }

    let settings: Settings
    let machineID: String
    let lock: (any RebootLock)?
    let engine: UpdateEngineClient
    /// Whether the slot this machine booted is marked good (the boot check's verdict).
    let bootIsGood: () -> Bool
    let reboot: () -> Void
    let log: (String) -> Void

    public init(settings: Settings, machineID: String, lock: (any RebootLock)?, engine: UpdateEngineClient = UpdateEngineClient(),
                bootIsGood: @escaping () -> Bool, reboot: @escaping () -> Void, log: @escaping (String) -> Void) {
        self.settings = settings
        self.machineID = machineID
        self.lock = lock
        self.engine = engine
        self.bootIsGood = bootIsGood
        self.reboot = reboot
        self.log = log
    }

    public func run() -> Never {
        if settings.strategy == .off {
            log("reboot strategy is off: not rebooting for updates")
            exit(0)
        }
        if let lock { releaseAfterGoodBoot(lock) }
        log("waiting for update_engine to need a reboot (strategy \(settings.strategy.rawValue))")
        while engine.status?.status != .updatedNeedReboot { pause(5, scaled: false) }
        log("update_engine installed an update; a reboot is needed")
        while true {
            waitForWindow()
            if let lock {
                var interval = 10.0
                while true {
                    do {
                        try lock.lock(machineID)
                        break
                    } catch {
                        log("cannot take the reboot lock: \(error); again in \(Int(interval)) s")
                        pause(interval)
                        interval = min(interval * 2, 300)
                        if settings.window.map({ $0.wait(from: time(nil)) > 0 }) ?? false { waitForWindow(); interval = 10 }
                    }
                }
                // A lock taken after the window closed waits for the next one, holding nothing meanwhile.
                if let window = settings.window, window.wait(from: time(nil)) > 0 {
                    try? lock.unlock(machineID)
                    continue
                }
                log("took the reboot lock")
            }
            break
        }
        rebootAndSleep()
    }

    /// The lock this machine still holds from before its reboot is given back once the boot check
    /// has marked this boot good; meanwhile its lease is kept alive.
    private func releaseAfterGoodBoot(_ lock: any RebootLock) {
        var interval = 5.0
        while true {
            do {
                guard try lock.holds(machineID) else { return }
                if bootIsGood() {
                    try lock.unlock(machineID)
                    log("this boot is marked good: released the reboot lock")
                    return
                }
                try lock.refresh(machineID)
                interval = 5
            } catch {
                log("cannot release the reboot lock yet: \(error)")
                interval = min(interval * 2, 300)
            }
            pause(interval)
        }
    }

    private func waitForWindow() {
        guard let window = settings.window else { return }
        let wait = window.wait(from: time(nil))
        guard wait > 0 else { return }
        log("waiting \(wait) s for the reboot window")
        pause(Double(wait), scaled: false)
    }

    /// As locksmith: tell logged-in users, give them 5 minutes, then reboot.
    private func rebootAndSleep() -> Never {
        let ttys = LoggedInUsers.ttys()
        if !ttys.isEmpty {
            LoggedInUsers.broadcast("System reboot in 5 minutes!", to: ttys)
            log("\(ttys.count) login(s): rebooting in 5 minutes")
            pause(300)
        }
        log("rebooting")
        reboot()
        while true { pause(86400, scaled: false) }
    }

    private func pause(_ seconds: Double, scaled: Bool = true) {
        let seconds = scaled ? seconds / settings.timeScale : seconds
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - seconds.rounded(.down)) * 1e9))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}

/// The logged-in users' terminals, from utmp, as locksmith's broadcast finds them.
enum LoggedInUsers {
    static func ttys() -> [String] {
        var ttys: [String] = []
        setutxent()
        defer { endutxent() }
        while let entry = getutxent() {
            guard entry.pointee.ut_type == USER_PROCESS else { continue }
            let line = withUnsafeBytes(of: entry.pointee.ut_line) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !line.isEmpty { ttys.append("/dev/" + line) }
        }
        return ttys
    }

    static func broadcast(_ message: String, to ttys: [String]) {
        for tty in ttys {
            try? SystemFile(tty, .readWrite).write(Array("\r\nBroadcast message from locksmithd: \(message)\r\n".utf8))
        }
    }
}
