import Foundation

/// A TCP port on 127.0.0.1 that nothing listens on now: the kernel's choice for a bind to port 0.
/// (Another process could take it before the caller binds it; tests live with that race.)
public func freePort() throws -> Int {
    let listener = try LoopbackListener()
    return listener.port
}

/// A socket bound to an ephemeral port of 127.0.0.1, closed when released.
public final class LoopbackListener: @unchecked Sendable {
    public let descriptor: Int32
    public let port: Int

    public struct SocketError: Error, CustomStringConvertible {
        public let description: String
    }

    /// Bound, and listening when `listen` is true (otherwise connecting to it is refused).
    public init(listen shouldListen: Bool = false) throws {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw SocketError(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) == 0 && getsockname(descriptor, $0, &length) == 0 }
        }
        guard bound, !shouldListen || listen(descriptor, 64) == 0 else {
            close(descriptor)
            throw SocketError(description: "binding 127.0.0.1:0: \(String(cString: strerror(errno)))")
        }
        self.descriptor = descriptor
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit { close(descriptor) }
}
