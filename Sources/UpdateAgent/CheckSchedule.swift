/// When update_engine checks next (spec update-agent.md §1.4, `update_check_scheduler.cc`): 420 s
/// after start and 2700 s after each check, each ± 300 s; after HTTP 500 or 503 twice the last
/// interval, at most 14400 s, ± half of it; a server's `PollInterval` replaces the computation
/// (at most 14400 s, at least 2700 s). Tests scale every figure down through `scale`.
public struct CheckSchedule: Sendable, Equatable {
    public static let initialInterval = 7 * 60
    public static let periodicInterval = 45 * 60
    public static let regularFuzz = 10 * 60
    public static let maxBackoffInterval = 4 * 3600

    /// How a check ended, as far as the next one is concerned.
    public enum Outcome: Sendable, Equatable {
        /// An answer (update or not), a transport failure, any HTTP error but 500/503.
        case answered(pollInterval: Int?)
        /// HTTP 500 or 503: the server asks clients to back off.
        case serverBusy
    }

    /// Seconds in the originals' figures per second waited: 1 in production.
    public let scale: Double
    /// The last interval before fuzz, which a back-off doubles.
    public private(set) var lastInterval: Int

    public init(scale: Double = 1) {
        self.scale = scale
        lastInterval = Self.initialInterval
    }

    /// `schedule`'s back-off state under a scale re-read from the configuration.
    public init(scale: Double, continuing schedule: CheckSchedule) {
        self.scale = scale
        lastInterval = schedule.lastInterval
    }

    /// The wait before the first check after the agent starts.
    public func first(using random: inout some RandomNumberGenerator) -> Double {
        scaled(Self.fuzz(Self.initialInterval, range: Self.regularFuzz, using: &random))
    }

    /// The wait before the next check after one that ended with `outcome`.
    public mutating func next(after outcome: Outcome, using random: inout some RandomNumberGenerator) -> Double {
        let interval: Int, fuzzRange: Int
        switch outcome {
        case .answered(let poll?) where poll > 0:
            (interval, fuzzRange) = Self.floored(min(poll, Self.maxBackoffInterval))
        case .serverBusy:
            (interval, fuzzRange) = Self.floored(min(lastInterval * 2, Self.maxBackoffInterval))
        case .answered:
            (interval, fuzzRange) = (Self.periodicInterval, Self.regularFuzz)
        }
        lastInterval = interval
        return scaled(Self.fuzz(interval, range: fuzzRange, using: &random))
    }

    /// Below the periodic interval the periodic interval and its fuzz apply; above it, ± half.
    private static func floored(_ interval: Int) -> (Int, Int) {
        interval < periodicInterval ? (periodicInterval, regularFuzz) : (interval, interval)
    }

    /// update_engine's FuzzInt: uniform in [value - range/2, value + range - range/2].
    static func fuzz(_ value: Int, range: Int, using random: inout some RandomNumberGenerator) -> Int {
        let low = value - range / 2
        return Int.random(in: low...(low + range), using: &random)
    }

    private func scaled(_ seconds: Int) -> Double { Double(seconds) / scale }
}
