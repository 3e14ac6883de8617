<?php
/**
 * The few WordPress functions the plugin calls, with WordPress's documented behaviour (not shipped).
 *
 * HTTP (wp_remote_*) is real, over PHP streams, unless a test queues canned answers in $GLOBALS['vb_http_queue'];
 * every request is recorded in $GLOBALS['vb_http_log'].
 */

if ( ! defined( 'ABSPATH' ) ) {
	define( 'ABSPATH', __DIR__ . '/' );
}

$GLOBALS['vb_hooks']      = array();
$GLOBALS['vb_options']    = array();
$GLOBALS['vb_transients'] = array();
$GLOBALS['vb_http_log']   = array();
$GLOBALS['vb_http_queue'] = null;
$GLOBALS['vb_caps']       = array( 'manage_woocommerce' => true );
$GLOBALS['vb_nonce_ok']   = true;

/** Thrown where WordPress would end the request (wp_die, wp_send_json, redirects), so tests can look. */
class VB_Request_Ended extends Exception {
	/** @var int */
	public $status;
	/** @var mixed */
	public $payload;

	public function __construct( $status, $payload ) {
		parent::__construct( 'request ended with ' . $status );
		$this->status  = $status;
		$this->payload = $payload;
	}
}

class WP_Error {
	private $code;
	private $message;

	public function __construct( $code = '', $message = '' ) {
		$this->code    = $code;
		$this->message = $message;
	}

	public function get_error_code() {
		return $this->code;
	}

	public function get_error_message() {
		return $this->message;
	}
}

function is_wp_error( $thing ) {
	return $thing instanceof WP_Error;
}

function add_action( $hook, $callback, $priority = 10, $args = 1 ) {
	$GLOBALS['vb_hooks'][ $hook ][ $priority ][] = array( $callback, $args );
	return true;
}

function add_filter( $hook, $callback, $priority = 10, $args = 1 ) {
	return add_action( $hook, $callback, $priority, $args );
}

function has_action( $hook, $callback = false ) {
	foreach ( isset( $GLOBALS['vb_hooks'][ $hook ] ) ? $GLOBALS['vb_hooks'][ $hook ] : array() as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			if ( false === $callback || $entry[0] === $callback ) {
				return true;
			}
		}
	}
	return false;
}

function apply_filters( $hook, $value, ...$args ) {
	$hooks = isset( $GLOBALS['vb_hooks'][ $hook ] ) ? $GLOBALS['vb_hooks'][ $hook ] : array();
	ksort( $hooks );
	foreach ( $hooks as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			$value = call_user_func_array( $entry[0], array_slice( array_merge( array( $value ), $args ), 0, $entry[1] ) );
		}
	}
	return $value;
}

function do_action( $hook, ...$args ) {
	$hooks = isset( $GLOBALS['vb_hooks'][ $hook ] ) ? $GLOBALS['vb_hooks'][ $hook ] : array();
	ksort( $hooks );
	foreach ( $hooks as $callbacks ) {
		foreach ( $callbacks as $entry ) {
			call_user_func_array( $entry[0], array_slice( $args, 0, $entry[1] ) );
		}
	}
}

function __( $text, $domain = 'default' ) {
	return $text;
}

function esc_html__( $text, $domain = 'default' ) {
	return esc_html( $text );
}

function esc_html( $text ) {
	return htmlspecialchars( (string) $text, ENT_QUOTES, 'UTF-8' );
}

function esc_attr( $text ) {
	return esc_html( $text );
}

function esc_url( $url ) {
	return esc_html( esc_url_raw( $url ) );
}

function esc_url_raw( $url ) {
	$url = trim( (string) $url );
	return preg_match( '#^https?://#i', $url ) ? $url : '';
}

function sanitize_text_field( $text ) {
	return trim( preg_replace( '/[\r\n\t ]+/', ' ', wp_strip_all_tags( (string) $text ) ) );
}

function wp_strip_all_tags( $text ) {
	return strip_tags( (string) $text );
}

function absint( $value ) {
	return abs( (int) $value );
}

function wp_json_encode( $data, $flags = 0 ) {
	return json_encode( $data, $flags );
}

function untrailingslashit( $value ) {
	return rtrim( (string) $value, '/\\' );
}

function trailingslashit( $value ) {
	return untrailingslashit( $value ) . '/';
}

function home_url( $path = '' ) {
	$base = getenv( 'VB_SHOP_URL' ) ? getenv( 'VB_SHOP_URL' ) : 'https://shop.test';
	return untrailingslashit( $base ) . '/' . ltrim( (string) $path, '/' );
}

function admin_url( $path = '' ) {
	return home_url( 'wp-admin/' . ltrim( (string) $path, '/' ) );
}

function get_bloginfo( $show = '' ) {
	return 'Test Shop';
}

function get_option( $name, $default = false ) {
	return array_key_exists( $name, $GLOBALS['vb_options'] ) ? $GLOBALS['vb_options'][ $name ] : $default;
}

function update_option( $name, $value ) {
	$GLOBALS['vb_options'][ $name ] = $value;
	return true;
}

function delete_option( $name ) {
	unset( $GLOBALS['vb_options'][ $name ] );
	return true;
}

function set_transient( $name, $value, $expiration = 0 ) {
	$GLOBALS['vb_transients'][ $name ] = $value;
	return true;
}

function get_transient( $name ) {
	return isset( $GLOBALS['vb_transients'][ $name ] ) ? $GLOBALS['vb_transients'][ $name ] : false;
}

function delete_transient( $name ) {
	unset( $GLOBALS['vb_transients'][ $name ] );
	return true;
}

function get_current_user_id() {
	return 1;
}

function current_user_can( $capability ) {
	return ! empty( $GLOBALS['vb_caps'][ $capability ] );
}

function wp_nonce_url( $url, $action ) {
	return $url . ( false === strpos( $url, '?' ) ? '?' : '&' ) . '_wpnonce=' . substr( hash( 'sha256', $action ), 0, 10 );
}

/** As WordPress: a bad or missing nonce ends the request with 403. */
function check_admin_referer( $action ) {
	if ( empty( $GLOBALS['vb_nonce_ok'] ) ) {
		throw new VB_Request_Ended( 403, 'The link you followed has expired.' );
	}
	return 1;
}

function wp_die( $message = '', $title = '', $args = array() ) {
	$status = is_int( $title ) ? $title : ( is_array( $args ) && isset( $args['response'] ) ? $args['response'] : 500 );
	throw new VB_Request_Ended( $status, $message );
}

function wp_safe_redirect( $location, $status = 302 ) {
	throw new VB_Request_Ended( $status, $location );
}

function status_header( $code ) {
	if ( ! headers_sent() && PHP_SAPI !== 'cli' ) {
		http_response_code( $code );
	}
}

/** As WordPress: JSON with the status, then the request ends (in the test web server it really exits). */
function wp_send_json( $response, $status_code = null ) {
	if ( PHP_SAPI === 'cli' ) {
		throw new VB_Request_Ended( null === $status_code ? 200 : $status_code, $response );
	}
	status_header( null === $status_code ? 200 : $status_code );
	header( 'Content-Type: application/json; charset=UTF-8' );
	echo wp_json_encode( $response );
	exit;
}

function wp_remote_post( $url, $args = array() ) {
	$args['method'] = 'POST';
	return wp_remote_request( $url, $args );
}

function wp_remote_get( $url, $args = array() ) {
	$args['method'] = 'GET';
	return wp_remote_request( $url, $args );
}

/** The WordPress HTTP API's contract: an array with response/body/headers, or a WP_Error when nothing came. */
function wp_remote_request( $url, $args = array() ) {
	$GLOBALS['vb_http_log'][] = array( 'url' => $url, 'args' => $args );
	if ( is_array( $GLOBALS['vb_http_queue'] ) ) {
		$answer = array_shift( $GLOBALS['vb_http_queue'] );
		if ( null === $answer ) {
			return new WP_Error( 'http_request_failed', 'cURL error 7: Failed to connect' );
		}
		return $answer;
	}
	$headers = '';
	foreach ( isset( $args['headers'] ) ? $args['headers'] : array() as $name => $value ) {
		$headers .= $name . ': ' . $value . "\r\n";
	}
	$context = stream_context_create(
		array(
			'http' => array(
				'method'          => isset( $args['method'] ) ? $args['method'] : 'GET',
				'header'          => $headers,
				'content'         => isset( $args['body'] ) ? $args['body'] : '',
				'timeout'         => isset( $args['timeout'] ) ? (float) $args['timeout'] : 5.0,
				'ignore_errors'   => true,
				'follow_location' => 0,
			),
		)
	);
	$http_response_header = array();
	$body                 = @file_get_contents( $url, false, $context ); // phpcs:ignore
	if ( false === $body ) {
		$error = error_get_last();
		return new WP_Error( 'http_request_failed', $error ? $error['message'] : 'request failed' );
	}
	$code = 0;
	foreach ( $http_response_header as $line ) {
		if ( preg_match( '#^HTTP/\S+\s+(\d{3})#', $line, $match ) ) {
			$code = (int) $match[1];
		}
	}
	return array(
		'response' => array(
			'code'    => $code,
			'message' => '',
		),
		'body'     => $body,
		'headers'  => array(),
	);
}

function wp_remote_retrieve_response_code( $response ) {
	return is_array( $response ) && isset( $response['response']['code'] ) ? $response['response']['code'] : '';
}

function wp_remote_retrieve_body( $response ) {
	return is_array( $response ) && isset( $response['body'] ) ? $response['body'] : '';
}

function wp_unslash( $value ) {
	return is_string( $value ) ? stripslashes( $value ) : $value;
}

// -- plugins, scripts and translations ---------------------------------------------------------------------

$GLOBALS['vb_scripts']      = array();
$GLOBALS['vb_script_i18n']  = array();
$GLOBALS['vb_textdomains']  = array();
$GLOBALS['vb_time']         = null;

/** As WordPress: the URL of a file relative to the plugin file's folder (WP_PLUGIN_URL is wp-content/plugins). */
function plugins_url( $path = '', $plugin = '' ) {
	$url = home_url( 'wp-content/plugins' );
	if ( '' !== $plugin ) {
		$url .= '/' . basename( dirname( $plugin ) );
	}
	return $url . ( '' !== $path ? '/' . ltrim( $path, '/' ) : '' );
}

function plugin_dir_path( $file ) {
	return trailingslashit( dirname( $file ) );
}

/** As WordPress: "<folder>/<main file>" relative to the plugins directory. */
function plugin_basename( $file ) {
	return basename( dirname( $file ) ) . '/' . basename( $file );
}

function wp_parse_url( $url, $component = -1 ) {
	return parse_url( $url, $component );
}

function wp_register_script( $handle, $src, $deps = array(), $ver = false, $in_footer = false ) {
	$GLOBALS['vb_scripts'][ $handle ] = array(
		'src'       => $src,
		'deps'      => $deps,
		'ver'       => $ver,
		'in_footer' => $in_footer,
	);
	return true;
}

function wp_set_script_translations( $handle, $domain = 'default', $path = '' ) {
	$GLOBALS['vb_script_i18n'][ $handle ] = array( $domain, $path );
	return true;
}

/** As WordPress: loads <path>/<domain>-<locale>.mo relative to WP_PLUGIN_DIR; records the call. */
function load_plugin_textdomain( $domain, $deprecated = false, $plugin_rel_path = false ) {
	$GLOBALS['vb_textdomains'][ $domain ] = $plugin_rel_path;
	return true;
}

/** time(), or the test's clock when one is set. */
function vb_now() {
	return null === $GLOBALS['vb_time'] ? time() : $GLOBALS['vb_time'];
}
