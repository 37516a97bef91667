import CLibAV

/// How far a stream's pictures must turn to stand upright, read from its
/// display matrix (phones record sideways and set this instead of turning
/// the pixels).
struct DisplayRotation: Equatable {
    /// Clockwise degrees: 0, 90, 180 or 270.
    let degrees: Int

    init(degrees: Int) { self.degrees = degrees }

    init(stream: UnsafeMutablePointer<AVStream>) {
        guard let matrix = av_stream_get_side_data(stream, AV_PKT_DATA_DISPLAYMATRIX, nil) else {
            degrees = 0
            return
        }
        let counterClockwise = matrix.withMemoryRebound(to: Int32.self, capacity: 9) {
            av_display_rotation_get($0)
        }
        guard counterClockwise.isFinite else { degrees = 0; return }
        // The matrix says how the picture was turned counter-clockwise; we
        // turn it back clockwise, snapped to the nearest quarter turn.
        let quarter = Int((-counterClockwise / 90).rounded())
        degrees = ((quarter % 4) + 4) % 4 * 90
    }

    /// The libavfilter chain that applies the turn, or nil when none is needed.
    var filter: String? {
        switch degrees {
        case 90: return "transpose=clock"
        case 180: return "hflip,vflip"
        case 270: return "transpose=cclock"
        default: return nil
        }
    }

    var swapsDimensions: Bool { degrees == 90 || degrees == 270 }
}
