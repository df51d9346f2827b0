//! Tensors in and out of files: `.npy` (read and write), `.npz` (write: one array per output),
//! images (decoded, resized and normalized as ImageNet models expect), and raw little-endian
//! float32.
//!
//! NumPy's formats are small enough to write here rather than pull in a crate: an `.npy` file is a
//! magic string, a Python-literal header and the data; an `.npz` is a zip archive of `.npy` files
//! (stored, not compressed).

use std::path::Path;

use anyhow::{Context, Result, bail, ensure};
use loadpart_runtime::{NamedTensors, Tensor};

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Reads one input tensor for a model input of `dims` (batch first) from `path`: an `.npy`
/// float32 array of exactly those dims (or those dims without the batch), an image (png, jpeg)
/// for an NCHW input with 1 or 3 channels, or raw little-endian float32 of the right size.
pub fn read_input(path: &Path, dims: &[usize]) -> Result<Tensor> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let elements: usize = dims.iter().product();
    let (shape, data) = match ext.as_str() {
        "npy" => read_npy(&bytes).with_context(|| format!("reading {}", path.display()))?,
        "png" | "jpg" | "jpeg" => (dims.to_vec(), read_image(&bytes, dims)?),
        _ => {
            ensure!(
                bytes.len() == elements * 4,
                "{}: {} bytes, but the model input {dims:?} needs {} float32 values ({} bytes); \
                 give a .npy file, an image, or raw little-endian float32",
                path.display(),
                bytes.len(),
                elements,
                elements * 4
            );
            let data = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (dims.to_vec(), data)
        }
    };
    let fits = shape == dims || (shape.len() + 1 == dims.len() && shape == dims[1..]);
    ensure!(
        fits,
        "{}: shape {shape:?}, the model input is {dims:?}",
        path.display()
    );
    Ok(Tensor::f32(dims.to_vec(), data)?)
}

/// Parses an `.npy` file of little-endian float32 (C order).
pub fn read_npy(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    ensure!(bytes.starts_with(NPY_MAGIC), "not a .npy file");
    ensure!(bytes.len() >= 10, "truncated .npy header");
    let major = bytes[6];
    let (len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            ensure!(bytes.len() >= 12, "truncated .npy header");
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => bail!(".npy version {v} is not supported"),
    };
    let header = bytes
        .get(start..start + len)
        .context("truncated .npy header")?;
    let header = std::str::from_utf8(header).context(".npy header is not text")?;
    let field = |key: &str| -> Option<&str> {
        let i = header.find(&format!("'{key}'"))?;
        Some(
            header[i + key.len() + 2..]
                .trim_start()
                .strip_prefix(':')?
                .trim_start(),
        )
    };
    let descr = field("descr").context(".npy header has no descr")?;
    ensure!(
        descr.starts_with("'<f4'") || descr.starts_with("'float32'"),
        ".npy dtype {} is not little-endian float32",
        descr.split(',').next().unwrap_or(descr)
    );
    ensure!(
        field("fortran_order").is_some_and(|v| v.starts_with("False")),
        "Fortran-ordered .npy arrays are not supported"
    );
    let shape_text = field("shape").context(".npy header has no shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .context("bad .npy shape")?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().context("bad .npy shape"))
        .collect::<Result<_>>()?;
    let n: usize = shape.iter().product();
    let data = &bytes[start + len..];
    ensure!(
        data.len() == n * 4,
        ".npy data is {} bytes, shape {shape:?} needs {}",
        data.len(),
        n * 4
    );
    let values = data
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((shape, values))
}

/// An `.npy` file of `t` (float32).
pub fn npy_bytes(t: &Tensor) -> Result<Vec<u8>> {
    let data = t.as_f32().context("only float32 tensors can be written")?;
    let dims: Vec<String> = t.shape.iter().map(usize::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    // Magic (6) + version (2) + length (2) + header + newline: a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * 4);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    Ok(out)
}

/// Writes `tensors` as an `.npz` archive, one `NAME.npy` per tensor (stored, uncompressed).
pub fn write_npz(path: &Path, tensors: &NamedTensors) -> Result<()> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, t) in tensors {
        let data = npy_bytes(t)?;
        let file = format!("{name}.npy");
        ensure!(
            data.len() < u32::MAX as usize && file.len() < u16::MAX as usize,
            "{name} is too large for a zip archive without zip64"
        );
        let crc = crc32fast::hash(&data);
        let offset = out.len() as u32;
        let sizes = |v: &mut Vec<u8>| {
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(data.len() as u32).to_le_bytes());
            v.extend_from_slice(&(file.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        // Local header: signature, version 2.0, flags 0, stored, time 0, date 1980-01-01.
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        sizes(&mut out);
        out.extend_from_slice(file.as_bytes());
        out.extend_from_slice(&data);
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        sizes(&mut central);
        // Comment length, disk, internal and external attributes, offset of the local header.
        central.extend_from_slice(&[0; 2 + 2 + 2 + 4]);
        central.extend_from_slice(&offset.to_le_bytes());
        central.extend_from_slice(file.as_bytes());
    }
    let cd_offset = out.len() as u32;
    let n = tensors.len() as u16;
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    std::fs::write(path, out).with_context(|| format!("writing {}", path.display()))
}

/// Decodes an image and lays it out for an NCHW input of `dims` (`[N, C, H, W]`, C 1 or 3):
/// resized to H x W, scaled to [0, 1] and normalized with ImageNet's mean and deviation
/// (grey: their averages).
fn read_image(bytes: &[u8], dims: &[usize]) -> Result<Vec<f32>> {
    ensure!(
        dims.len() == 4 && matches!(dims[1], 1 | 3),
        "an image can only feed an NCHW input with 1 or 3 channels; this input is {dims:?}"
    );
    let (c, h, w) = (dims[1], dims[2], dims[3]);
    let img = image::load_from_memory(bytes).context("decoding the image")?;
    let img = img
        .resize_exact(w as u32, h as u32, image::imageops::FilterType::Triangle)
        .to_rgb8();
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let mut out = vec![0f32; dims.iter().product()];
    for (x, y, px) in img.enumerate_pixels() {
        let (x, y) = (x as usize, y as usize);
        if c == 3 {
            for ch in 0..3 {
                out[(ch * h + y) * w + x] = (px[ch] as f32 / 255.0 - MEAN[ch]) / STD[ch];
            }
        } else {
            let grey = (px[0] as f32 + px[1] as f32 + px[2] as f32) / (3.0 * 255.0);
            out[y * w + x] = (grey - 0.449) / 0.226;
        }
    }
    // Every sample of the batch gets the same image.
    let per = c * h * w;
    for n in 1..dims[0] {
        out.copy_within(0..per, n * per);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_round_trips() {
        for shape in [vec![3], vec![1, 2, 3]] {
            let n: usize = shape.iter().product();
            let t = Tensor::f32(shape.clone(), (0..n).map(|i| i as f32 * 0.5).collect()).unwrap();
            let bytes = npy_bytes(&t).unwrap();
            let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + header_len) % 64, 0);
            let (s, v) = read_npy(&bytes).unwrap();
            assert_eq!(s, shape);
            assert_eq!(v, t.as_f32().unwrap());
        }
    }

    #[test]
    fn bad_npy_files_are_errors() {
        let t = Tensor::f32(vec![2], vec![1.0, 2.0]).unwrap();
        let good = npy_bytes(&t).unwrap();
        assert!(read_npy(b"hello").is_err());
        assert!(read_npy(&good[..good.len() - 1]).is_err(), "truncated data");
        assert!(read_npy(&good[..12]).is_err(), "truncated header");
        let f8 = String::from_utf8_lossy(&good).replace("<f4", "<f8");
        assert!(read_npy(f8.as_bytes()).is_err(), "float64");
    }

    #[test]
    fn npz_is_a_zip_of_npy_files() {
        let dir = std::env::temp_dir().join(format!("loadpart-npz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.npz");
        let t = Tensor::f32(vec![1, 2], vec![1.0, 2.0]).unwrap();
        write_npz(&path, &vec![("y".into(), t.clone()), ("z".into(), t)]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..4], &0x0403_4b50u32.to_le_bytes());
        let end = bytes.len() - 22;
        assert_eq!(&bytes[end..end + 4], &0x0605_4b50u32.to_le_bytes());
        assert_eq!(u16::from_le_bytes([bytes[end + 10], bytes[end + 11]]), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn raw_input_of_the_wrong_size_is_refused_clearly() {
        let dir = std::env::temp_dir().join(format!("loadpart-raw-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.bin");
        std::fs::write(&path, [0u8; 10]).unwrap();
        let e = read_input(&path, &[1, 3]).unwrap_err().to_string();
        assert!(e.contains("12 bytes"), "{e}");
        std::fs::write(&path, [0u8; 12]).unwrap();
        assert_eq!(read_input(&path, &[1, 3]).unwrap().shape, [1, 3]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
