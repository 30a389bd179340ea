import Foundation
import TestSupport

/// An HTTP server on 127.0.0.1 that answers whatever bytes a test scripts, for the faults a real
/// server never makes: a body cut short, oversized headers, a redirect loop, silence. It records
/// every request it reads.
final class RawServer: @unchecked Sendable {
    struct Request {
        var method: String
        var target: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]
        func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
    }

    /// What to do with a request's connection; it is closed afterwards.
    enum Reply {
        case bytes([UInt8])
        /// Nothing at all, for as long as the client waits.
        case silence
    }

    private let listener: LoopbackListener
    private let lock = NSLock()
    private var recorded: [Request] = []
    var port: Int { listener.port }
    var url: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { lock.withLock { recorded } }

    /// `reply` gets each request and how many came before it.
    init(_ reply: @escaping @Sendable (Request, Int) -> Reply) throws {
        listener = try LoopbackListener(listen: true)
        let descriptor = listener.descriptor
        // Weakly: the test's last reference going away shuts the listener down, which ends accept().
        Thread.detachNewThread { [weak self] in
            while true {
                let connection = accept(descriptor, nil, nil)
                guard connection >= 0 else { return }
                guard let self else { close(connection); return }
                Thread.detachNewThread { self.serve(connection, reply) }
            }
        }
    }

    deinit { shutdown(listener.descriptor, Int32(SHUT_RDWR)) }

    private func serve(_ connection: Int32, _ reply: (Request, Int) -> Reply) {
        defer { close(connection) }
        guard let request = Self.readRequest(connection) else { return }
        let index = lock.withLock { recorded.append(request); return recorded.count - 1 }
        switch reply(request, index) {
        case .bytes(let bytes): Self.write(bytes, to: connection)
        case .silence: Thread.sleep(forTimeInterval: 30)
        }
    }

    private static func readRequest(_ connection: Int32) -> Request? {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        func more() -> Bool {
            let count = read(connection, &buffer, buffer.count)
            guard count > 0 else { return false }
            data += buffer[..<count]
            return true
        }
        let separator = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while headEnd == nil {
            guard more() else { return nil }
            headEnd = data.indices.dropLast(3).first { Array(data[$0..<$0 + 4]) == separator }
        }
        let lines = String(decoding: data[..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines[0].split(separator: " ")
        let headers = lines.dropFirst().map { line in
            let colon = line.firstIndex(of: ":")!
            return (name: String(line[..<colon]), value: line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        var request = Request(method: String(requestLine[0]), target: String(requestLine[1]), headers: headers, body: [])
        let length = Int(request.header("Content-Length") ?? "0") ?? 0
        while data.count < headEnd! + 4 + length { guard more() else { return nil } }
        request.body = Array(data[(headEnd! + 4)...])
        return request
    }

    static func write(_ bytes: [UInt8], to connection: Int32) {
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { send(connection, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { return }
            sent += count
        }
    }

    /// A response with the given status, extra header lines and body; Content-Length is added
    /// unless `length` is false.
    static func response(_ status: Int, _ headers: [String] = [], body: [UInt8] = [], length: Bool = true) -> [UInt8] {
        let lines = ["HTTP/1.1 \(status) Status"] + headers + (length ? ["Content-Length: \(body.count)"] : [])
        return Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8) + body
    }
}
