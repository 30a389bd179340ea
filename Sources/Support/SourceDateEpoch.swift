import Foundation

/// The build's notion of "now": `SOURCE_DATE_EPOCH` when set, so outputs are reproducible.
public struct BuildClock: Sendable, Equatable {
    public let epoch: Int

    public init(epoch: Int) { self.epoch = epoch }

    /// Reads `SOURCE_DATE_EPOCH`; falls back to `fallback` (e.g. the repo's last commit time).
    public static func fromEnvironment(fallback: Int) throws -> BuildClock {
        guard let raw = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"], !raw.isEmpty else {
            return BuildClock(epoch: fallback)
        }
        guard let value = Int(raw), value >= 0 else {
            throw SupportError("SOURCE_DATE_EPOCH must be a non-negative integer of seconds, got '\(raw)'")
        }
        return BuildClock(epoch: value)
    }
}

/// A UUID derived from a name, so "random" identifiers (filesystem UUIDs, partition GUIDs) are
/// stable across builds of the same inputs (RFC 4122 name-based layout, SHA-256 truncated).
public func stableUUID(_ name: String) -> String {
    var bytes = Array(Digests.sha256(name).utf8.prefix(32)).chunked(2).map { UInt8(String(decoding: $0, as: UTF8.self), radix: 16)! }
    bytes[6] = (bytes[6] & 0x0F) | 0x50
    bytes[8] = (bytes[8] & 0x3F) | 0x80
    let hex = Digests.hex(bytes)
    let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4),
                 hex.dropFirst(16).prefix(4), hex.dropFirst(20).prefix(12)]
    return parts.joined(separator: "-")
}

extension Array {
    /// The elements in runs of `size` (the last may be shorter), e.g. for command lines of bounded length.
    public func chunked(_ size: Int) -> [[Element]] {
        stride(from: 0, to: count, by: size).map { Array(self[$0..<Swift.min($0 + size, count)]) }
    }
}
