import Foundation
@testable import HTTPFetch
import TestSupport
import XCTest

/// Bytes no two offsets of which are likely to agree by accident, so a misplaced range shows.
let blob: [UInt8] = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }

/// Faults only a scripted server makes.
final class HTTPFetchFaultTests: XCTestCase {
    let fetcher = HTTPFetcher(connectTimeout: 5, lowSpeedLimit: (1, 10), maxRedirects: 3)

    func testDownloadCutHalfwayResumesWithARangeRequest() throws {
        let half = blob.count / 2
        let server = try RawServer { request, index in
            if index == 0 {
                // Announces everything, sends half, closes.
                return .bytes(Array(RawServer.response(200, body: blob).dropLast(blob.count - half)))
            }
            return .bytes(RawServer.response(206, ["Content-Range: bytes \(half)-\(blob.count - 1)/\(blob.count)"], body: Array(blob[half...])))
        }
        let scratch = try Scratch()
        let file = scratch.path("payload")
        try fetcher.download(url: "\(server.url)/payload", to: file.path, expectedSize: UInt64(blob.count), retryDelay: 0)
        XCTAssertEqual(Array(try Data(contentsOf: file)), blob)
        XCTAssertEqual(server.requests.map { $0.header("Range") }, [nil, "bytes=\(half)-"])
    }

    func testDownloadStartsOverWhenTheServerIgnoresTheRange() throws {
        let server = try RawServer { _, _ in .bytes(RawServer.response(200, body: blob)) }
        let scratch = try Scratch()
        let file = scratch.path("payload")
        try Data("stale bytes".utf8).write(to: file)
        try fetcher.download(url: server.url, to: file.path, expectedSize: nil, retryDelay: 0)
        XCTAssertEqual(Array(try Data(contentsOf: file)), blob)
        XCTAssertEqual(server.requests.map { $0.header("Range") }, ["bytes=11-"])
    }

    func testDownloadGivesUpAfterItsRetries() throws {
        let server = try RawServer { _, _ in .bytes(Array(RawServer.response(200, body: blob).dropLast(1))) }
        let scratch = try Scratch()
        XCTAssertThrowsError(try fetcher.download(url: server.url, to: scratch.path("payload").path, expectedSize: nil,
                                                  retries: 2, retryDelay: 0)) {
            guard case .connectionLost = $0 as? HTTPError else { return XCTFail("\($0)") }
        }
        XCTAssertEqual(server.requests.count, 3, "one attempt and two retries")
    }

    func testDownloadRefusesAnUnexpectedSize() throws {
        let server = try RawServer { _, _ in .bytes(RawServer.response(200, body: Array(blob[..<1000]))) }
        let scratch = try Scratch()
        XCTAssertThrowsError(try fetcher.download(url: server.url, to: scratch.path("payload").path, expectedSize: 2000, retryDelay: 0)) {
            XCTAssertEqual($0 as? HTTPError, .sizeMismatch(url: server.url + "/", expected: 2000, actual: 1000))
        }
    }

    func testDownloadReportsAnErrorStatus() throws {
        let server = try RawServer { _, _ in .bytes(RawServer.response(404)) }
        let scratch = try Scratch()
        XCTAssertThrowsError(try fetcher.download(url: server.url, to: scratch.path("payload").path, expectedSize: nil, retryDelay: 0)) {
            XCTAssertEqual($0 as? HTTPError, .status(404, url: server.url + "/"))
        }
        XCTAssertEqual(server.requests.count, 1, "a status is not retried")
    }

    func testChunkedBodyWithExtensionsAndTrailers() throws {
        let chunked = "4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\n"
        let server = try RawServer { _, _ in
            .bytes(RawServer.response(200, ["Transfer-Encoding: chunked"], length: false) + Array(chunked.utf8))
        }
        let response = try fetcher.send(HTTPRequest(url: server.url), maxBodySize: 100)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "Wikipedia in\r\n\r\nchunks.")
    }

    func testBodyReadUntilCloseWithoutALength() throws {
        let server = try RawServer { _, _ in .bytes(RawServer.response(200, length: false) + blob) }
        XCTAssertEqual(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: blob.count).body, blob)
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: 1000)) {
            XCTAssertEqual($0 as? HTTPError, .bodyTooLarge(url: server.url + "/", limit: 1000))
        }
    }

    func testBodyCutShortIsALostConnection() throws {
        let server = try RawServer { _, _ in .bytes(Array(RawServer.response(200, body: blob).dropLast(10))) }
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: blob.count)) {
            XCTAssertEqual(($0 as? HTTPError)?.isTransient, true, "\($0)")
        }
    }

    func testOversizedHeadersAreRefused() throws {
        let huge = "X-Padding: " + String(repeating: "a", count: 70 * 1024)
        let server = try RawServer { _, _ in .bytes(RawServer.response(200, [huge])) }
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: 100)) {
            guard case .malformedResponse(_, let reason) = $0 as? HTTPError else { return XCTFail("\($0)") }
            XCTAssertTrue(reason.contains("longer than its limit"), reason)
        }
    }

    func testGarbageIsAMalformedResponse() throws {
        let server = try RawServer { _, _ in .bytes(Array("SSH-2.0-OpenSSH_9.2\r\n\r\n".utf8)) }
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: 100)) {
            guard case .malformedResponse = $0 as? HTTPError else { return XCTFail("\($0)") }
        }
    }

    func testRedirectsAreFollowedAndA303BecomesAGet() throws {
        let server = try RawServer { request, _ in
            switch request.target {
            case "/start": .bytes(RawServer.response(307, ["Location: /moved?x=1"]))
            case "/moved?x=1": .bytes(RawServer.response(303, ["Location: final"]))
            default: .bytes(RawServer.response(200, body: Array("\(request.method) \(request.target) \(request.body.count)".utf8)))
            }
        }
        let response = try fetcher.send(HTTPRequest(method: "POST", url: "\(server.url)/start", body: [1, 2, 3]), maxBodySize: 100)
        XCTAssertEqual(String(decoding: response.body, as: UTF8.self), "GET /final 0")
        XCTAssertEqual(server.requests.map { "\($0.method) \($0.body.count)" }, ["POST 3", "POST 3", "GET 0"],
                       "307 repeats the request, 303 turns it into a GET")
    }

    func testARedirectLoopStopsAtTheLimit() throws {
        let server = try RawServer { _, _ in .bytes(RawServer.response(302, ["Location: /again"])) }
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: server.url), maxBodySize: 100)) {
            XCTAssertEqual($0 as? HTTPError, .tooManyRedirects(url: server.url + "/again", limit: 3))
        }
        XCTAssertEqual(server.requests.count, 4, "the first request and three redirects")
    }

    func testASilentServerTimesOut() throws {
        let server = try RawServer { _, _ in .silence }
        let impatient = HTTPFetcher(connectTimeout: 5, lowSpeedLimit: (1, 1))
        XCTAssertThrowsError(try impatient.send(HTTPRequest(url: server.url), maxBodySize: 100)) {
            guard case .timedOut = $0 as? HTTPError else { return XCTFail("\($0)") }
            XCTAssertEqual(($0 as? HTTPError)?.isTransient, true)
        }
    }

    func testARefusedConnectionIsANetworkFailure() throws {
        let port = try LoopbackListener(listen: false)
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: "http://127.0.0.1:\(port.port)/"), maxBodySize: 100)) {
            guard case .connectFailed(let host, let refusedPort, _) = $0 as? HTTPError else { return XCTFail("\($0)") }
            XCTAssertEqual(host, "127.0.0.1")
            XCTAssertEqual(refusedPort, port.port)
            XCTAssertEqual(($0 as? HTTPError)?.isTransient, true)
        }
    }

    func testRequestsThatCannotBeSentAreRefusedBeforeConnecting() {
        for (url, reason) in [("https://update.example/", "https is not supported"), ("ftp://x/", "unsupported scheme"),
                              ("http://:80/", "no host"), ("http://host:99999/", "bad port"), ("update.example/", "not an absolute")] {
            XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: url), maxBodySize: 1)) {
                guard case .invalidRequest(_, let message) = $0 as? HTTPError else { return XCTFail("\(url): \($0)") }
                XCTAssertTrue(message.contains(reason), "\(url): \(message)")
            }
        }
        XCTAssertThrowsError(try fetcher.send(HTTPRequest(url: "http://127.0.0.1:1/", headers: [("X-Evil", "a\r\nHost: b")]), maxBodySize: 1))
    }
}

final class HTTPURLTests: XCTestCase {
    func testPartsOfAURL() throws {
        let url = try HTTPURL(parsing: "HTTP://update.example:8080/v1/update/?track=stable#part")
        XCTAssertEqual([url.host, String(url.port), url.target, url.authority], ["update.example", "8080", "/v1/update/?track=stable", "update.example:8080"])
        XCTAssertEqual(try HTTPURL(parsing: "http://10.0.0.1").description, "http://10.0.0.1/")
        XCTAssertEqual(try HTTPURL(parsing: "http://[::1]:2379?x").description, "http://[::1]:2379/?x")
    }

    func testRedirectLocationsResolveAgainstTheRequest() throws {
        let base = try HTTPURL(parsing: "http://a.example:81/dir/file?q")
        XCTAssertEqual(try base.resolving("/other").description, "http://a.example:81/other")
        XCTAssertEqual(try base.resolving("sibling?x").description, "http://a.example:81/dir/sibling?x")
        XCTAssertEqual(try base.resolving("//b.example/x").description, "http://b.example/x")
        XCTAssertEqual(try base.resolving("http://c.example:2379/").description, "http://c.example:2379/")
    }
}
