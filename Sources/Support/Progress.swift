import Foundation

/// Progress lines on standard error (`[3/6] rootfs and filesystems … 9.1 s`, with indented
/// sub-steps such as `      mkfs squashfs /usr … 4.1 s`) and the step timings that end up in build.json.
public final class ProgressReporter: @unchecked Sendable {
    public struct StepTiming: Codable, Sendable {
        public let step: String
        public let seconds: Double
        public let cached: Bool
    }

    private let lock = NSLock()
    private var stepNumber = 0
    private let totalSteps: Int
    private let quiet: Bool
    public private(set) var timings: [StepTiming] = []

    public init(totalSteps: Int, quiet: Bool = false) {
        self.totalSteps = totalSteps
        self.quiet = quiet
    }

    /// Times a numbered top-level step. `body` returns its value and whether it was a cache hit.
    public func step<T>(_ name: String, _ body: () throws -> (T, cached: Bool)) rethrows -> T {
        try timed(name, numbered: true, body)
    }

    /// Times a part of the current step; printed indented, recorded like a step.
    public func detail<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        try timed(name, numbered: false) { (try body(), false) }
    }

    private func timed<T>(_ name: String, numbered: Bool, _ body: () throws -> (T, cached: Bool)) rethrows -> T {
        let start = Date()
        let (value, cached) = try body()
        let seconds = Date().timeIntervalSince(start)
        lock.lock()
        if numbered { stepNumber += 1 }
        let number = stepNumber
        timings.append(StepTiming(step: name, seconds: (seconds * 1000).rounded() / 1000, cached: cached))
        lock.unlock()
        if !quiet {
            let label = numbered ? "[\(number)/\(totalSteps)]" : "     "
            let line = String(format: "%@ %@ … %.1f s%@\n", label, name, seconds, cached ? " (cached)" : "")
            FileHandle.standardError.write(Data(line.utf8))
        }
        return value
    }

    /// A warning the user should act on; printed even when quiet.
    public func warn(_ message: String) {
        FileHandle.standardError.write(Data("coresdk: warning: \(message)\n".utf8))
    }

    public func note(_ message: String) {
        if !quiet { FileHandle.standardError.write(Data("      \(message)\n".utf8)) }
    }
}
