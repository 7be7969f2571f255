//! Screenshots: PNG bytes from `/screenshot` decoded to RGB and resized (box filter) to
//! the declared image shape.

/// A raw RGB image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rgb {
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// Decode a PNG (any colour type and depth) to 8-bit RGB.
pub fn decode_png(bytes: &[u8]) -> Result<Rgb, String> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes));
    dec.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = dec
        .read_info()
        .map_err(|e| format!("the screenshot is not a PNG: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or("the screenshot is too large")?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("the screenshot PNG is corrupt: {e}"))?;
    let (w, h) = (info.width, info.height);
    let px = (w as usize) * (h as usize);
    let mut data = Vec::with_capacity(px * 3);
    let src = &buf[..info.buffer_size()];
    match info.color_type {
        png::ColorType::Rgb => data.extend_from_slice(&src[..px * 3]),
        png::ColorType::Rgba => src
            .chunks_exact(4)
            .take(px)
            .for_each(|p| data.extend_from_slice(&p[..3])),
        png::ColorType::Grayscale => src.iter().take(px).for_each(|&g| data.extend([g, g, g])),
        png::ColorType::GrayscaleAlpha => src
            .chunks_exact(2)
            .take(px)
            .for_each(|p| data.extend([p[0], p[0], p[0]])),
        png::ColorType::Indexed => return Err("an indexed PNG was not expanded".into()),
    }
    Ok(Rgb {
        width: w,
        height: h,
        data,
    })
}

/// Resize with a box filter (each output pixel averages the input pixels it covers;
/// nearest pixel when enlarging).
pub fn resize(img: &Rgb, width: u32, height: u32) -> Rgb {
    if img.width == width && img.height == height {
        return img.clone();
    }
    let (sw, sh) = (img.width as usize, img.height as usize);
    let (dw, dh) = (width as usize, height as usize);
    let mut data = Vec::with_capacity(dw * dh * 3);
    for y in 0..dh {
        let y0 = y * sh / dh;
        let y1 = ((y + 1) * sh / dh).max(y0 + 1).min(sh);
        for x in 0..dw {
            let x0 = x * sw / dw;
            let x1 = ((x + 1) * sw / dw).max(x0 + 1).min(sw);
            let mut acc = [0u64; 3];
            for yy in y0..y1 {
                for xx in x0..x1 {
                    let i = (yy * sw + xx) * 3;
                    for (c, a) in acc.iter_mut().enumerate() {
                        *a += u64::from(img.data[i + c]);
                    }
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as u64;
            data.extend(acc.iter().map(|a| (a / n) as u8));
        }
    }
    Rgb {
        width,
        height,
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(w: u32, h: u32, color: png::ColorType, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut e = png::Encoder::new(&mut out, w, h);
            e.set_color(color);
            e.set_depth(png::BitDepth::Eight);
            let mut wr = e.write_header().unwrap();
            wr.write_image_data(data).unwrap();
        }
        out
    }

    #[test]
    fn decodes_rgb_rgba_and_gray() {
        let rgb = encode(2, 1, png::ColorType::Rgb, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(decode_png(&rgb).unwrap().data, vec![1, 2, 3, 4, 5, 6]);
        let rgba = encode(1, 1, png::ColorType::Rgba, &[9, 8, 7, 255]);
        assert_eq!(decode_png(&rgba).unwrap().data, vec![9, 8, 7]);
        let gray = encode(1, 2, png::ColorType::Grayscale, &[5, 6]);
        let g = decode_png(&gray).unwrap();
        assert_eq!((g.width, g.height, g.data), (1, 2, vec![5, 5, 5, 6, 6, 6]));
        assert!(decode_png(b"not a png").is_err());
    }

    #[test]
    fn box_resize_averages() {
        let img = Rgb {
            width: 2,
            height: 2,
            data: vec![0, 0, 0, 100, 100, 100, 200, 200, 200, 100, 100, 100],
        };
        let r = resize(&img, 1, 1);
        assert_eq!(r.data, vec![100, 100, 100]);
        let up = resize(&img, 4, 4);
        assert_eq!(up.data.len(), 48);
        assert_eq!(&up.data[..3], &[0, 0, 0]);
    }
}
