"""The Spark engine: the recipe compiled to the PySpark DataFrame API, one file per output.

Same files as the Polars engine (``engine``, ``read``, ``steps``, ``expressions``) plus
``session`` (the process's one SparkSession). Every step runs as Spark SQL expressions: no
Python UDF touches a row. It needs Spark 4 (JSON is read with the VARIANT functions) and reads
and writes local paths; ``s3://`` inputs are read as ``s3a://``, which needs the Hadoop AWS
connector of the cluster's image (not installed here, so S3 is untested with this engine).

Results equal the Polars engine's: the same rows in the same order (``_row`` is numbered as
Polars numbers it, see ``read``), the same text for every value except float digits noted
below, the same rejected rows, counters, fills and rule outcomes. The differences that remain:

* Floats: Java 17 prints 17 significant digits for about 0.4 % of doubles where Polars prints
  16 (``-2.12516568180053984e+17`` vs ``-2.1251656818005398e+17``), and a digit more for some
  subnormals (``4.9e-324`` vs ``5e-324``): the same double. A float concatenated into a text
  (``concat``) carries those digits into the text. For float32 columns Java prints extra digits more often (~6 %); they read back as the same float32.
  Sums and means of floats may differ in the last bits (summation order).
* CSV input: a row with more fields than the header loses the extra fields (Polars fails); with
  several files, columns are matched by position using the first file's header. Text that does
  not parse as its column's type is found with Polars' cast rules; dates are ``yyyy-m-d`` or
  ``yyyy/m/d`` and times ``yyyy-mm-dd[T ]hh:mm[:ss[.f]]`` (Polars also infers other layouts from
  the first value, such as ``dd/mm/yyyy``). Bytes that are not UTF-8 are refused in local files;
  in S3 objects Spark reads them as U+FFFD.
* JSONL input: values are read as their JSON text, then converted; a JSON float in an int64
  column is a bad value (Polars truncates it), and kept extra columns are text (Polars keeps
  their JSON type: same CSV text, other Parquet types).
* JSON fields read as text: ``-0`` and ``-0.0`` give ``0`` (Polars ``-0.0``), ``1e400`` gives
  ``inf`` (Polars: not JSON); numbers inside an object quoted in a rejection reason may be
  written differently. A member name containing ``'`` cannot be read (refused before reading).
* ``matches`` rules use Java regular expressions (Polars: Rust's), equal for common patterns.
* No "ran again with row-level JSON checks" note: Spark always checks rows in one pass.
* Parquet outputs hold the same values and types but other bytes (encoder, metadata).
"""

from prepline.engines.spark.engine import SparkEngine

__all__ = ["SparkEngine"]
