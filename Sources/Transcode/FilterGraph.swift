import CLibAV

/// A libavfilter graph with one source and one sink: `buffer -> chain ->
/// buffersink` for video, `abuffer -> chain -> abuffersink` for audio.
/// libavfilter does the per-frame work (deinterlace, turn, scale, convert,
/// resample, downmix, re-chunk) in C, so Swift only moves frames.
final class FilterGraph {
    private var graph: UnsafeMutablePointer<AVFilterGraph>?
    private(set) var source: UnsafeMutablePointer<AVFilterContext>
    private(set) var sink: UnsafeMutablePointer<AVFilterContext>

    /// - Parameters:
    ///   - kind: `.video` uses buffer/buffersink, `.audio` abuffer/abuffersink.
    ///   - sourceArguments: the buffer source's parameters (size, format, time base…).
    ///   - chain: the filters between, in libavfilter's syntax.
    init(kind: AVMediaType, sourceArguments: String, chain: String, threads: Int) throws(TranscodeError) {
        let isVideo = kind == AVMEDIA_TYPE_VIDEO
        guard let graph = avfilter_graph_alloc() else { throw MemoryLimit.outOfMemory("allocating a filter graph") }
        self.graph = graph
        graph.pointee.nb_threads = Int32(threads)
        var src: UnsafeMutablePointer<AVFilterContext>? = nil
        var snk: UnsafeMutablePointer<AVFilterContext>? = nil
        do {
            try check(avfilter_graph_create_filter(&src, avfilter_get_by_name(isVideo ? "buffer" : "abuffer"),
                                                   "in", sourceArguments, nil, graph),
                      "setting up the \(isVideo ? "video" : "audio") source (\(sourceArguments))")
            try check(avfilter_graph_create_filter(&snk, avfilter_get_by_name(isVideo ? "buffersink" : "abuffersink"),
                                                   "out", nil, nil, graph),
                      "setting up the \(isVideo ? "video" : "audio") sink")
            var outputs = avfilter_inout_alloc()
            var inputs = avfilter_inout_alloc()
            defer {
                avfilter_inout_free(&outputs)
                avfilter_inout_free(&inputs)
            }
            outputs?.pointee.name = av_strdup("in")
            outputs?.pointee.filter_ctx = src
            inputs?.pointee.name = av_strdup("out")
            inputs?.pointee.filter_ctx = snk
            try check(avfilter_graph_parse_ptr(graph, chain, &inputs, &outputs, nil), "building the filters '\(chain)'")
            try check(avfilter_graph_config(graph, nil), "configuring the filters '\(chain)'")
        } catch {
            avfilter_graph_free(&self.graph)
            throw error
        }
        source = src!
        sink = snk!
    }

    deinit {
        avfilter_graph_free(&graph)
    }

    /// Hands a frame to the graph (nil: end of stream). The graph takes the
    /// frame's data; `frame` is left blank for reuse.
    func push(_ frame: UnsafeMutablePointer<AVFrame>?) throws(TranscodeError) {
        try check(av_buffersrc_add_frame_flags(source, frame, 0), "filtering a frame")
    }

    /// The next filtered frame into `frame`, or false when the graph needs
    /// more input (or has been drained).
    func pull(into frame: UnsafeMutablePointer<AVFrame>) throws(TranscodeError) -> Bool {
        let result = av_buffersink_get_frame(sink, frame)
        if result == vq_averror_eagain() || result == vq_averror_eof() { return false }
        try check(result, "filtering a frame")
        return true
    }

    var outputTimeBase: AVRational { av_buffersink_get_time_base(sink) }
    var outputFrameRate: AVRational { av_buffersink_get_frame_rate(sink) }
    var outputWidth: Int32 { av_buffersink_get_w(sink) }
    var outputHeight: Int32 { av_buffersink_get_h(sink) }
    var outputSampleRate: Int32 { av_buffersink_get_sample_rate(sink) }

    /// Makes audio come out in chunks of exactly `samples` (AAC wants 1024).
    func setOutputFrameSize(_ samples: Int32) {
        av_buffersink_set_frame_size(sink, UInt32(samples))
    }
}
