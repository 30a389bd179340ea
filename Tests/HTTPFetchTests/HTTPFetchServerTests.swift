import Foundation
import HTTPFetch
import Hummingbird
import HummingbirdTesting
import TestSupport
import XCTest

// Hummingbird has its own HTTPRequest and HTTPError.
private typealias FetchRequest = HTTPFetch.HTTPRequest
private typealias FetchError = HTTPFetch.HTTPError

/// Requests to a real HTTP server (Hummingbird) on 127.0.0.1.
final class HTTPFetchServerTests: XCTestCase {
    let fetcher = HTTPFetcher(connectTimeout: 5, lowSpeedLimit: (1, 10))

    /// Runs `body` with the base URL of a server that has `/hello`, `/echo` (POST: the body back,
    /// with the request's headers as response headers), `/stream` (a chunked body) and `/blob`
    /// (honouring `Range: bytes=N-` with 206).
    func withServer(_ body: @escaping @Sendable (String) throws -> Void) async throws {
        let router = Router()
        router.get("/hello") { request, _ in "hello \(request.uri.queryParameters["name"].map(String.init) ?? "")" }
        router.post("/echo") { request, _ -> Response in
            let received = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, headers: [.contentType: request.headers[.contentType] ?? "none"],
                            body: .init(byteBuffer: received))
        }
        router.get("/stream") { _, _ in
            Response(status: .ok, body: ResponseBody { writer in
                for offset in stride(from: 0, to: blob.count, by: 70_000) {
                    try await writer.write(ByteBuffer(bytes: blob[offset..<min(offset + 70_000, blob.count)]))
                }
                try await writer.finish(nil)
            })
        }
        router.get("/blob") { request, _ -> Response in
            guard let range = request.headers[.range] else { return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(bytes: blob))) }
            let first = Int(range.dropFirst("bytes=".count).prefix { $0 != "-" })!
            return Response(status: .partialContent, headers: [.contentRange: "bytes \(first)-\(blob.count - 1)/\(blob.count)"],
                            body: .init(byteBuffer: ByteBuffer(bytes: blob[first...])))
        }
        let application = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await application.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            try await Task.detached { try body(base) }.value
        }
    }

    func testGetAndPostExchangeBodiesAndHeaders() async throws {
        let fetcher = fetcher
        try await withServer { base in
            let hello = try fetcher.send(FetchRequest(url: "\(base)/hello?name=core"), maxBodySize: 1024)
            XCTAssertEqual(hello.status, 200)
            XCTAssertEqual(String(decoding: hello.body, as: UTF8.self), "hello core")
            XCTAssertEqual(hello.header("CONTENT-LENGTH"), "10", "header names match whatever their case")

            let echo = try fetcher.send(FetchRequest(method: "POST", url: "\(base)/echo", headers: [("Content-Type", "text/x-test")],
                                                         body: Array(blob[..<100_000])), maxBodySize: 1 << 20)
            XCTAssertEqual(echo.status, 200)
            XCTAssertEqual(echo.body, Array(blob[..<100_000]))
            XCTAssertEqual(echo.header("content-type"), "text/x-test")

            let missing = try fetcher.send(FetchRequest(url: "\(base)/nothing"), maxBodySize: 1024)
            XCTAssertEqual(missing.status, 404, "any final status is a response, not an error")
        }
    }

    func testChunkedBodyIsReassembled() async throws {
        let fetcher = fetcher
        try await withServer { base in
            let response = try fetcher.send(FetchRequest(url: "\(base)/stream"), maxBodySize: blob.count)
            XCTAssertEqual(response.header("transfer-encoding"), "chunked")
            XCTAssertEqual(response.body, blob)
            XCTAssertThrowsError(try fetcher.send(FetchRequest(url: "\(base)/stream"), maxBodySize: blob.count - 1)) {
                XCTAssertEqual($0 as? FetchError, .bodyTooLarge(url: "\(base)/stream", limit: blob.count - 1))
            }
        }
    }

    func testDownloadResumesAPartialFileWithARangeRequest() async throws {
        let scratch = try Scratch()
        let file = scratch.path("update.gz")
        try Data(blob[..<123_456]).write(to: file)
        let fetcher = fetcher
        try await withServer { base in
            var reported: [UInt64] = []
            try fetcher.download(url: "\(base)/blob", to: file.path, expectedSize: UInt64(blob.count), retryDelay: 0) {
                reported.append($0)
            }
            XCTAssertEqual(Array(try Data(contentsOf: file)), blob)
            XCTAssertGreaterThan(reported.first!, 123_456, "progress counts the bytes already there")
            XCTAssertEqual(reported.last, UInt64(blob.count))
            // Already complete: nothing more is fetched or changed.
            try fetcher.download(url: "\(base)/blob", to: file.path, expectedSize: UInt64(blob.count), retryDelay: 0)
            XCTAssertEqual(Array(try Data(contentsOf: file)), blob)
        }
    }
}

