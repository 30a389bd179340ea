import Foundation
@testable import Payload
@testable import PayloadGeneration
import Support
import Testing

/// Text-like bytes bzip2 shrinks, the same on every run.
private func sampleBytes(_ count: Int) -> [UInt8] {
    let words = Array("usr share doc coreos verity kernel initramfs ".utf8)
    return (0..<count).map { words[($0 * 7 + $0 / 97) % words.count] }
}

private func compressed(_ bytes: [UInt8]) throws -> [UInt8] {
    try bytes.withUnsafeBytes { try Bzip2.compress($0) }
}

/// Runs the real `bzip2` with `arguments` on `input`, returning what it writes.
private func bzip2Tool(_ arguments: [String], _ input: [UInt8]) throws -> [UInt8] {
    let file = FileManager.default.temporaryDirectory.appendingPathComponent("bzip2-\(UUID().uuidString)")
    try Data(input).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    return [UInt8](try Command.run(["bzip2"] + arguments, standardInput: try FileHandle(forReadingFrom: file)).standardOutput)
}

@Suite struct Bzip2Tests {
    @Test func ourStreamDecodesWithTheBzip2Tool() throws {
        let input = sampleBytes(3 << 20)
        let ours = try compressed(input)
        #expect(ours.count < input.count / 10)
        #expect(try bzip2Tool(["-dc"], ours) == input)
    }

    @Test func theBzip2ToolsStreamDecodesWithOurs() throws {
        let input = sampleBytes(1 << 20)
        let theirs = try bzip2Tool(["-9c"], input)
        #expect(try Bzip2.decompress(theirs, limit: input.count) == input)
        #expect(try compressed(input) == theirs, "same level and block size: the same bytes as bzip2 -9")
    }

    @Test func emptyInputRoundTrips() throws {
        let stream = try compressed([])
        #expect(try Bzip2.decompress(stream, limit: 0) == [])
        #expect(try bzip2Tool(["-dc"], stream) == [])
    }

    @Test func outputIsLimitedToWhatTheCallerExpects() throws {
        let input = sampleBytes(100_000)
        let stream = try compressed(input)
        #expect(try Bzip2.decompress(stream, limit: input.count) == input, "exactly the limit is fine")
        #expect(throws: Bzip2Error.largerThan(input.count - 1)) { try Bzip2.decompress(stream, limit: input.count - 1) }
        #expect(throws: Bzip2Error.largerThan(0)) { try Bzip2.decompress(stream, limit: 0) }
    }

    @Test func truncatedStreamIsRefused() throws {
        let stream = try compressed(sampleBytes(100_000))
        #expect(throws: Bzip2Error.truncated(stream.count - 1)) { try Bzip2.decompress(stream.dropLast(), limit: 1 << 20) }
        #expect(throws: Bzip2Error.truncated(0)) { try Bzip2.decompress([UInt8](), limit: 1 << 20) }
    }

    @Test func bytesAfterTheStreamAreRefused() throws {
        let stream = try compressed(sampleBytes(1000))
        #expect(throws: Bzip2Error.trailingData(3)) { try Bzip2.decompress(stream + [1, 2, 3], limit: 1 << 20) }
        #expect(throws: Bzip2Error.trailingData(stream.count), "a second stream is trailing data too, as for update_engine") {
            try Bzip2.decompress(stream + stream, limit: 1 << 20)
        }
    }

    @Test func damagedStreamIsRefused() throws {
        var stream = try compressed(sampleBytes(100_000))
        stream[stream.count / 2] ^= 0x55
        let error = #expect(throws: Bzip2Error.self) { try Bzip2.decompress(stream, limit: 1 << 20) }
        guard case .corrupt(let offset) = error else {
            Issue.record("\(String(describing: error)) is not .corrupt")
            return
        }
        #expect(offset > 0 && offset <= stream.count)
        #expect(throws: Bzip2Error.notBzip2) { try Bzip2.decompress(Array("PK\u{3}\u{4} not bzip2".utf8), limit: 1 << 20) }
    }

    @Test func errorsReadAsPartOfASentence() {
        #expect("the data \(Bzip2Error.trailingData(3))" == "the data has 3 bytes after the end of its bzip2 stream")
        #expect("the data \(Bzip2Error.largerThan(4096))" == "the data decompresses to more than 4096 bytes")
        #expect("the data \(Bzip2Error.truncated(10))" == "the data is truncated: its 10 bytes end before the bzip2 stream does")
    }
}
