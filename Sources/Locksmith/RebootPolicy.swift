#if canImport(Glibc)
import Glibc
#endif

/// `REBOOT_STRATEGY` (spec update-agent.md §3.2): what locksmithd does once update_engine says
/// UPDATED_NEED_REBOOT. Empty means `reboot`.
public enum RebootStrategy: String, Sendable, CaseIterable {
    case reboot
    case etcdLock = "etcd-lock"
    case off

    public init(setting: String?) throws(RebootPolicyError) {
        let text = setting ?? ""
        if text.isEmpty { self = .reboot; return }
        guard let strategy = Self(rawValue: text) else {
            throw RebootPolicyError("REBOOT_STRATEGY=\(text): unknown; use one of reboot, etcd-lock, off")
        }
        self = strategy
    }
}

public struct RebootPolicyError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A reboot window (§3.3): `[Day ]H:M` and a Go duration, daily or (with a day) weekly, in the
/// machine's local time.
public struct RebootWindow: Sendable, Equatable {
    /// 0 = Sunday, as `tm_wday`; nil for a daily window.
    public let weekday: Int?
    public let hour: Int
    public let minute: Int
    public let length: Int

    static let days = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]

    /// Both settings or neither (then there is no window).
    public static func parse(start: String?, length: String?) throws(RebootPolicyError) -> RebootWindow? {
        let start = start ?? "", length = length ?? ""
        if start.isEmpty && length.isEmpty { return nil }
        guard !start.isEmpty, !length.isEmpty else {
            throw RebootPolicyError("a reboot window needs both REBOOT_WINDOW_START and REBOOT_WINDOW_LENGTH")
        }
        let fields = start.split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else { throw RebootPolicyError("REBOOT_WINDOW_START=\(start): expected [Day ]HH:MM") }
        var weekday: Int?
        if fields.count == 2 {
            guard let day = days.firstIndex(of: fields[0].lowercased()) else {
                throw RebootPolicyError("REBOOT_WINDOW_START=\(start): \(fields[0]) is not a day (sun, mon, … sat)")
            }
            weekday = day
        }
        let clock = fields.last!.split(separator: ":", omittingEmptySubsequences: false)
        guard clock.count == 2, let hour = Int(clock[0]), let minute = Int(clock[1]), (0...23).contains(hour), (0...59).contains(minute) else {
            throw RebootPolicyError("REBOOT_WINDOW_START=\(start): expected HH:MM with hour 0-23, minute 0-59")
        }
        guard let seconds = parseDuration(length) else {
            throw RebootPolicyError("REBOOT_WINDOW_LENGTH=\(length): not a duration such as 1h, 90m or 1h30m")
        }
        let limit = weekday == nil ? 86400 : 7 * 86400
        guard seconds < limit else {
            throw RebootPolicyError("REBOOT_WINDOW_LENGTH=\(length): a \(weekday == nil ? "daily" : "weekly") window is shorter than \(weekday == nil ? "24h" : "7 days")")
        }
        return RebootWindow(weekday: weekday, hour: hour, minute: minute, length: seconds)
    }

    /// Go's time.ParseDuration for whole seconds: a sequence of number+unit (h, m, s).
    static func parseDuration(_ text: String) -> Int? {
        if text == "0" { return 0 }
        var total = 0.0, number = "", sawUnit = false
        for character in text {
            if character.isNumber || character == "." { number.append(character); continue }
            let unit: Double
            switch character {
            case "h": unit = 3600
            case "m": unit = 60
            case "s": unit = 1
            default: return nil
            }
            guard let value = Double(number) else { return nil }
            total += value * unit
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit else { return nil }
        return Int(total)
    }

    /// Seconds from `now` until the window opens: 0 while it is open.
    public func wait(from now: time_t) -> Int {
        let start = lastStart(atOrBefore: now)
        if now <= start + time_t(length) { return 0 }
        return Int(step(start, days: weekday == nil ? 1 : 7) - now)
    }

    /// The latest start at or before `now`, in local time (mktime places DST changes).
    private func lastStart(atOrBefore now: time_t) -> time_t {
        var moment = now
        var local = tm()
        localtime_r(&moment, &local)
        local.tm_hour = Int32(hour)
        local.tm_min = Int32(minute)
        local.tm_sec = 0
        if let weekday { local.tm_mday -= Int32((Int(local.tm_wday) - weekday + 7) % 7) }
        local.tm_isdst = -1
        var start = mktime(&local)
        if start > now { start = step(start, days: weekday == nil ? -1 : -7) }
        return start
    }

    private func step(_ moment: time_t, days: Int) -> time_t {
        var moment = moment
        var local = tm()
        localtime_r(&moment, &local)
        local.tm_mday += Int32(days)
        local.tm_isdst = -1
        return mktime(&local)
    }
}
