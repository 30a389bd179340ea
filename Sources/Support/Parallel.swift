import Dispatch

/// Runs two independent pieces of work on two threads and returns both results.
/// The build has exactly two cores' worth of such pairs (e.g. /usr image ∥ other filesystems),
/// so a structured pair is simpler than a task group over synchronous subprocess calls.
public func inParallel<A, B>(_ first: () throws -> A, _ second: () throws -> B) throws -> (A, B) {
    try withoutActuallyEscaping(first) { first in
        try withoutActuallyEscaping(second) { second in
            nonisolated(unsafe) let work = (first, second)
            let results = PairResults<A, B>()
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                if index == 0 {
                    results.first = Result { try work.0() }
                } else {
                    results.second = Result { try work.1() }
                }
            }
            // concurrentPerform returns only after both iterations: each slot is written once, then read here.
            return (try results.first!.get(), try results.second!.get())
        }
    }
}

private final class PairResults<A, B>: @unchecked Sendable {
    var first: Result<A, Error>?
    var second: Result<B, Error>?
}
