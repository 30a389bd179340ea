import Foundation
import XCTest
@testable import Support

final class AtomicFileTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("atomic-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: directory) }

    func testFailedProduceKeepsTheOldFileAndLeavesNoTemporary() throws {
        let target = directory.appendingPathComponent("image.bin")
        try AtomicFile.write("old", to: target)
        XCTAssertThrowsError(try AtomicFile.produce(target) { temporary in
            try Data("half-written".utf8).write(to: temporary)
            throw SupportError("disk full")
        })
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "old")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["image.bin"])
    }

    func testProduceReplacesTheFileOnlyWhenFinished() throws {
        let target = directory.appendingPathComponent("nested/version.txt")
        let size = try AtomicFile.produce(target) { temporary -> Int in
            XCTAssertFalse(FileManager.default.fileExists(atPath: target.path))
            try Data("COREOS_VERSION=1.0.0\n".utf8).write(to: temporary)
            return 21
        }
        XCTAssertEqual(size, 21)
        XCTAssertEqual(try String(contentsOf: target, encoding: .utf8), "COREOS_VERSION=1.0.0\n")
    }
}

final class DigestsTests: XCTestCase {
    func testFileDigestsMatchCoreutils() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("digest-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        // Larger than one read chunk, so chunk boundaries are exercised.
        var bytes = Data(count: (4 << 20) + 12345)
        for index in stride(from: 0, to: bytes.count, by: 4093) { bytes[index] = UInt8(index % 251) }
        try bytes.write(to: file)
        let both = try Digests.sha256And512(file: file)
        let sha256sum = try Command.run(["sha256sum", file.path]).text.prefix(64)
        let sha512sum = try Command.run(["sha512sum", file.path]).text.prefix(128)
        XCTAssertEqual(both.sha256, String(sha256sum))
        XCTAssertEqual(both.sha512, String(sha512sum))
        XCTAssertEqual(try Digests.sha256(file: file), both.sha256)
    }

    func testContentKeyDependsOnOrderAndOnFieldBoundaries() {
        var first = ContentKey("test"); first.add("a", "bc"); first.add("d", "e")
        var same = ContentKey("test"); same.add("a", "bc"); same.add("d", "e")
        var shifted = ContentKey("test"); shifted.add("a", "b"); shifted.add("cd", "e")
        var swapped = ContentKey("test"); swapped.add("d", "e"); swapped.add("a", "bc")
        XCTAssertEqual(first.value, same.value)
        XCTAssertNotEqual(first.value, shifted.value)
        XCTAssertNotEqual(first.value, swapped.value)
    }
}

final class BuildClockTests: XCTestCase {
    override func tearDown() { unsetenv("SOURCE_DATE_EPOCH") }

    func testSourceDateEpochWinsOverTheFallback() throws {
        setenv("SOURCE_DATE_EPOCH", "1700000000", 1)
        XCTAssertEqual(try BuildClock.fromEnvironment(fallback: 5).epoch, 1_700_000_000)
        unsetenv("SOURCE_DATE_EPOCH")
        XCTAssertEqual(try BuildClock.fromEnvironment(fallback: 5).epoch, 5)
    }

    func testMalformedSourceDateEpochIsRejected() {
        setenv("SOURCE_DATE_EPOCH", "yesterday", 1)
        XCTAssertThrowsError(try BuildClock.fromEnvironment(fallback: 5)) { error in
            XCTAssertEqual("\(error)", "SOURCE_DATE_EPOCH must be a non-negative integer of seconds, got 'yesterday'")
        }
    }

    func testStableUUIDIsAVersion5StyleUUIDThatDependsOnlyOnTheName() throws {
        let uuid = stableUUID("board/ROOT")
        XCTAssertEqual(uuid, stableUUID("board/ROOT"))
        XCTAssertNotEqual(uuid, stableUUID("board/OEM"))
        XCTAssertNotNil(UUID(uuidString: uuid))
        let characters = Array(uuid)
        XCTAssertEqual(characters[14], "5", "version nibble")
        XCTAssertTrue("89ab".contains(characters[19]), "RFC 4122 variant")
    }
}

final class ParallelTests: XCTestCase {
    func testBothResultsComeBackAndRunConcurrently() throws {
        // Each side waits for the other to have started: run one after the other, the first
        // would wait in vain.
        let aStarted = DispatchSemaphore(value: 0), bStarted = DispatchSemaphore(value: 0)
        let (a, b) = try inParallel({ () -> Bool in aStarted.signal(); return bStarted.wait(timeout: .now() + 30) == .success },
                                    { () -> Bool in bStarted.signal(); return aStarted.wait(timeout: .now() + 30) == .success })
        XCTAssertTrue(a, "the first saw the second running")
        XCTAssertTrue(b, "the second saw the first running")
    }

    func testAFailureOnEitherSideIsThrown() {
        XCTAssertThrowsError(try inParallel({ 1 }, { () throws -> Int in throw SupportError("mkfs failed") })) {
            XCTAssertEqual("\($0)", "mkfs failed")
        }
    }
}

final class ProgressReporterTests: XCTestCase {
    func testStepsAndDetailsAreRecordedInOrderWithCacheHits() throws {
        let progress = ProgressReporter(totalSteps: 2, quiet: true)
        let value = progress.step("debian packages") { (42, cached: true) }
        let detail = progress.detail("mkfs squashfs /usr") { "done" }
        XCTAssertEqual(value, 42)
        XCTAssertEqual(detail, "done")
        XCTAssertEqual(progress.timings.map(\.step), ["debian packages", "mkfs squashfs /usr"])
        XCTAssertEqual(progress.timings.map(\.cached), [true, false])
    }
}

final class UserNamespaceTests: XCTestCase {
    func testSubordinateRangesAreFoundByNameOrNumber() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("subuid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: file) }
        try "alice:100000:65536\n1001:200000:70000\nbroken line\n".write(to: file, atomically: true, encoding: .utf8)
        XCTAssertEqual(try UserNamespace.range(in: file.path, user: "alice", id: 1000), .init(start: 100000, count: 65536))
        XCTAssertEqual(try UserNamespace.range(in: file.path, user: "bob", id: 1001), .init(start: 200000, count: 70000))
        XCTAssertNil(try UserNamespace.range(in: file.path, user: "carol", id: 1002))
    }

    func testAUserWithoutSubordinateIdsIsToldWhatToAdd() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("subuid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: empty) }
        try "".write(to: empty, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try UserNamespace.forCurrentUser(subuidFile: empty.path, subgidFile: empty.path)) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains("no subordinate ids"), message)
            XCTAssertTrue(message.contains("usermod --add-subuids 100000-165535 --add-subgids 100000-165535"), message)
            XCTAssertTrue(message.contains("/etc/subuid and /etc/subgid"), message)
        }
    }
}
