import Omaha
import XCTest

/// Network input is untrusted: whatever the bytes, reading ends in a value or an error, never a
/// crash, and whatever is accepted is written back to something that reads the same.
final class HostileInputTests: XCTestCase {
    func testEveryTruncationOfARequestIsRefused() throws {
        let bytes = Array(OmahaRequestTests.specExample.utf8)
        // Everything up to and including `</request>`; only the final newline may go.
        let complete = bytes.count - 1
        for length in 0..<complete {
            XCTAssertThrowsError(try OmahaRequest(parsing: bytes[..<length]), "\(length) bytes")
        }
        XCTAssertNoThrow(try OmahaRequest(parsing: bytes[..<complete]))
    }

    func testMutatedRequestsAndResponsesNeverCrashAndRoundTripWhenAccepted() {
        var random = SplitMix64(seed: 0x04a4a)
        let samples = [Array(OmahaRequestTests.specExample.utf8), Array(OmahaResponseTests.specExample.utf8)]
        let alphabet = Array("<>&;\"'/=!?-[]#x0 \n\u{0}é".utf8) + [0xC3, 0xFF, 0xED]
        var accepted = 0
        var refused = 0
        for round in 0..<3000 {
            var bytes = samples[round % 2]
            for _ in 0...random.next(below: 4) {
                let at = random.next(below: bytes.count)
                switch random.next(below: 5) {
                case 0: bytes[at] = alphabet[random.next(below: alphabet.count)]
                case 1: bytes.remove(at: at)
                case 2: bytes.insert(alphabet[random.next(below: alphabet.count)], at: at)
                case 3: bytes.removeLast(random.next(below: bytes.count - at))
                default:
                    let end = min(bytes.count, at + random.next(below: 40))
                    bytes.insert(contentsOf: bytes[at..<end], at: random.next(below: bytes.count))
                }
                if bytes.isEmpty { break }
            }
            do throws(OmahaError) {
                if round % 2 == 0 {
                    let request = try OmahaRequest(parsing: bytes)
                    XCTAssertEqual(try OmahaRequest(parsing: request.serialized()), request)
                } else {
                    let response = try OmahaResponse(parsing: bytes)
                    XCTAssertEqual(try OmahaResponse(parsing: response.serialized()), response)
                }
                accepted += 1
            } catch {
                XCTAssertFalse(error.description.isEmpty)
                refused += 1
            }
        }
        // Both paths were exercised: the mutations are neither all harmless nor all fatal.
        XCTAssertGreaterThan(accepted, 100)
        XCTAssertGreaterThan(refused, 100)
    }

    func testRandomBytesAreRefused() {
        var random = SplitMix64(seed: 7)
        for _ in 0..<500 {
            let bytes = (0..<random.next(below: 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            XCTAssertThrowsError(try XMLDocument.parse(bytes))
        }
    }
}

/// A small deterministic generator, so a failure reproduces.
struct SplitMix64 {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next(below bound: Int) -> Int {
        bound <= 0 ? 0 : Int(next() % UInt64(bound))
    }
}
