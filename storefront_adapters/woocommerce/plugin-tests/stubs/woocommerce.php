<?php
/**
 * The WooCommerce classes and functions the plugin calls, with WooCommerce's documented behaviour, on a
 * file-backed order store (a JSON file, so the test web server and the test process see the same orders).
 */

namespace Automattic\WooCommerce\Utilities {
	class FeaturesUtil {
		/** @var array Every declaration, as (feature, plugin file, compatible). */
		public static $declared = array();

		public static function declare_compatibility( $feature_id, $plugin_file, $positive_compatibility = true ) {
			self::$declared[] = array( $feature_id, $plugin_file, $positive_compatibility );
			return true;
		}
	}
}

namespace Automattic\WooCommerce\Blocks\Payments\Integrations {
	/** WooCommerce Blocks' AbstractPaymentMethodType (IntegrationInterface): as in WooCommerce 9.x. */
	abstract class AbstractPaymentMethodType {
		protected $name     = '';
		protected $settings = array();

		abstract public function initialize();

		protected function get_setting( $name, $default = '' ) {
			return isset( $this->settings[ $name ] ) ? $this->settings[ $name ] : $default;
		}

		public function get_name() {
			return $this->name;
		}

		public function is_active() {
			return true;
		}

		public function get_payment_method_script_handles() {
			return array();
		}

		public function get_payment_method_script_handles_for_admin() {
			return $this->get_payment_method_script_handles();
		}

		public function get_supported_features() {
			return array( 'products' );
		}

		public function get_payment_method_data() {
			return array();
		}

		public function get_script_handles() {
			return $this->get_payment_method_script_handles();
		}

		public function get_editor_script_handles() {
			return $this->get_payment_method_script_handles_for_admin();
		}

		public function get_script_data() {
			return $this->get_payment_method_data();
		}
	}
}

namespace Automattic\WooCommerce\Blocks\Payments {
	use Automattic\WooCommerce\Blocks\Payments\Integrations\AbstractPaymentMethodType;

	/** The registry handed to woocommerce_blocks_payment_method_type_registration (IntegrationRegistry). */
	class PaymentMethodRegistry {
		/** @var AbstractPaymentMethodType[] */
		public $registered = array();

		/** As IntegrationRegistry::register: initialize() runs on registration; a name registers once. */
		public function register( $integration ) {
			$name = $integration->get_name();
			if ( isset( $this->registered[ $name ] ) ) {
				return false;
			}
			$integration->initialize();
			$this->registered[ $name ] = $integration;
			return true;
		}
	}
}

namespace {

	$GLOBALS['vb_notices'] = array();
	$GLOBALS['vb_log']     = array();

	/** Orders in one JSON file, read and written under an exclusive lock. */
	class VB_Order_Store {
		public static function path() {
			$path = getenv( 'VB_ORDER_STORE' );
			return $path ? $path : sys_get_temp_dir() . '/vb-orders-' . getmypid() . '.json';
		}

		/** Runs $change on all orders (id => data) under the lock and saves what it returns. */
		public static function update( callable $change ) {
			$handle = fopen( self::path(), 'c+' );
			flock( $handle, LOCK_EX );
			$text   = stream_get_contents( $handle );
			$orders = $text ? json_decode( $text, true ) : array();
			$orders = $change( is_array( $orders ) ? $orders : array() );
			ftruncate( $handle, 0 );
			rewind( $handle );
			fwrite( $handle, json_encode( $orders, JSON_PRETTY_PRINT ) );
			fflush( $handle );
			flock( $handle, LOCK_UN );
			fclose( $handle );
		}

		public static function all() {
			$orders = array();
			self::update(
				function ( $all ) use ( &$orders ) {
					$orders = $all;
					return $all;
				}
			);
			return $orders;
		}

		public static function put( array $order ) {
			self::update(
				function ( $all ) use ( $order ) {
					$all[ (string) $order['id'] ] = $order;
					return $all;
				}
			);
		}

		public static function reset() {
			if ( file_exists( self::path() ) ) {
				unlink( self::path() );
			}
		}

		/** A new pending order with WooCommerce's defaults; returns its id. */
		public static function create( array $fields ) {
			$order = array_merge(
				array(
					'id'             => 1,
					'status'         => 'pending',
					'total'          => '10.00',
					'currency'       => 'USD',
					'payment_method' => 'voltbridge',
					'billing'        => array(
						'first_name' => 'Ada',
						'last_name'  => 'Lovelace',
						'email'      => 'ada@example.com',
					),
					'customer_id'    => 7,
					'order_key'      => 'wc_order_abc123',
					'needs_processing' => true,
					'transaction_id' => '',
					'date_paid'      => null,
					'meta'           => array(),
					'notes'          => array(),
					'created_via'    => 'checkout',
					'date_modified'  => vb_now(),
				),
				$fields
			);
			self::put( $order );
			return $order['id'];
		}
	}

	/** WC_Order as far as the plugin uses it. Changes are kept in memory until save(), as in WooCommerce. */
	class WC_Order {
		private $data;
		private $pending_notes = array();

		public function __construct( array $data ) {
			$this->data = $data;
		}

		public function get_id() {
			return (int) $this->data['id'];
		}

		public function get_order_number() {
			return (string) $this->data['id'];
		}

		public function get_total() {
			return $this->data['total'];
		}

		public function get_currency() {
			return $this->data['currency'];
		}

		public function get_billing_email() {
			return $this->data['billing']['email'];
		}

		public function get_billing_first_name() {
			return $this->data['billing']['first_name'];
		}

		public function get_billing_last_name() {
			return $this->data['billing']['last_name'];
		}

		public function get_customer_id() {
			return $this->data['customer_id'];
		}

		public function get_order_key() {
			return $this->data['order_key'];
		}

		public function get_created_via() {
			return $this->data['created_via'];
		}

		public function get_date_modified_timestamp() {
			return (int) $this->data['date_modified'];
		}

		public function get_payment_method() {
			return $this->data['payment_method'];
		}

		public function get_status() {
			return $this->data['status'];
		}

		public function get_transaction_id() {
			return $this->data['transaction_id'];
		}

		public function set_transaction_id( $id ) {
			$this->data['transaction_id'] = (string) $id;
		}

		public function get_checkout_order_received_url() {
			return home_url( 'checkout/order-received/' . $this->get_id() . '/?key=' . $this->get_order_key() );
		}

		public function get_cancel_order_url_raw() {
			return home_url( '?cancel_order=true&order_id=' . $this->get_id() . '&order=' . $this->get_order_key() );
		}

		public function has_status( $status ) {
			return in_array( $this->data['status'], (array) $status, true );
		}

		/** wc_get_is_paid_statuses(): processing and completed. */
		public function is_paid() {
			return $this->has_status( array( 'processing', 'completed' ) );
		}

		public function get_meta( $key, $single = true ) {
			return isset( $this->data['meta'][ $key ] ) ? $this->data['meta'][ $key ] : '';
		}

		public function update_meta_data( $key, $value ) {
			$this->data['meta'][ $key ] = $value;
		}

		public function add_order_note( $note, $is_customer_note = 0 ) {
			$this->pending_notes[] = (string) $note;
			// WooCommerce writes notes at once (comments table), not on save().
			$id = $this->get_id();
			VB_Order_Store::update(
				function ( $all ) use ( $id, $note ) {
					if ( isset( $all[ (string) $id ] ) ) {
						$all[ (string) $id ]['notes'][] = (string) $note;
					}
					return $all;
				}
			);
			$this->data['notes'][] = (string) $note;
			return count( $this->data['notes'] );
		}

		/** As WooCommerce: the status changes, a transition note is written, and the order is saved. */
		public function update_status( $new_status, $note = '' ) {
			$old = $this->data['status'];
			$this->data['status'] = $new_status;
			$this->save();
			if ( $old !== $new_status ) {
				$this->add_order_note( trim( sprintf( 'Order status changed from %s to %s. %s', $old, $new_status, $note ) ) );
			} elseif ( '' !== $note ) {
				$this->add_order_note( $note );
			}
			return true;
		}

		/** As WooCommerce: only from on-hold, pending, failed or cancelled; processing (or completed). */
		public function payment_complete( $transaction_id = '' ) {
			if ( ! $this->has_status( array( 'on-hold', 'pending', 'failed', 'cancelled' ) ) ) {
				return false;
			}
			if ( '' !== $transaction_id ) {
				$this->set_transaction_id( $transaction_id );
			}
			$this->data['date_paid'] = gmdate( 'c' );
			$this->update_status( $this->data['needs_processing'] ? 'processing' : 'completed' );
			return true;
		}

		/** As WooCommerce: saving stamps the modification time. */
		public function save() {
			$this->data['date_modified'] = vb_now();
			$data = $this->data;
			VB_Order_Store::update(
				function ( $all ) use ( $data ) {
					$stored         = isset( $all[ (string) $data['id'] ] ) ? $all[ (string) $data['id'] ] : $data;
					$data['notes']  = $stored['notes'];
					$all[ (string) $data['id'] ] = $data;
					return $all;
				}
			);
			$this->data['notes'] = $data['notes'];
			return $this->get_id();
		}

		public function get_notes() {
			return $this->data['notes'];
		}
	}

	function wc_get_order( $order_id ) {
		$orders = VB_Order_Store::all();
		return isset( $orders[ (string) $order_id ] ) ? new WC_Order( $orders[ (string) $order_id ] ) : false;
	}

	/** The store's currency (option woocommerce_currency), through the filter multi-currency plugins use. */
	function get_woocommerce_currency() {
		return apply_filters( 'woocommerce_currency', get_option( 'woocommerce_currency', 'USD' ) );
	}

	/**
	 * As wc_cancel_unpaid_orders() (WooCommerce's cron for "Hold stock"): with stock management on, pending
	 * orders not modified for the hold minutes are cancelled, unless woocommerce_cancel_unpaid_order says no
	 * (its default: the order was created at checkout).
	 */
	function wc_cancel_unpaid_orders() {
		$held_duration = get_option( 'woocommerce_hold_stock_minutes', 60 );
		if ( $held_duration < 1 || 'yes' !== get_option( 'woocommerce_manage_stock', 'yes' ) ) {
			return;
		}
		$cutoff = vb_now() - absint( $held_duration ) * 60;
		foreach ( VB_Order_Store::all() as $data ) {
			if ( 'pending' !== $data['status'] || (int) $data['date_modified'] >= $cutoff ) {
				continue;
			}
			$order = wc_get_order( $data['id'] );
			if ( apply_filters( 'woocommerce_cancel_unpaid_order', 'checkout' === $order->get_created_via(), $order ) ) {
				$order->update_status( 'cancelled', 'Unpaid order cancelled - time limit reached.' );
			}
		}
	}

	function wc_add_notice( $message, $type = 'success' ) {
		$GLOBALS['vb_notices'][] = array( $type, $message );
	}

	function wc_get_price_decimals() {
		return 2;
	}

	/** wc_format_decimal with a precision: rounds half up and pads (WooCommerce returns a string). */
	function wc_format_decimal( $number, $dp = false ) {
		$number = (string) $number;
		if ( false === $dp ) {
			return $number;
		}
		return number_format( round( (float) $number, (int) $dp ), (int) $dp, '.', '' );
	}

	class VB_Logger {
		public function log( $level, $message, $context = array() ) {
			$GLOBALS['vb_log'][] = array( $level, $message, $context );
		}
	}

	function wc_get_logger() {
		return new VB_Logger();
	}

	class WC_Admin_Settings {
		public static $errors = array();

		public static function add_error( $text ) {
			self::$errors[] = $text;
		}
	}

	/** The settings API part of WC_Payment_Gateway: settings in the option woocommerce_<id>_settings. */
	abstract class WC_Payment_Gateway {
		public $id;
		public $title;
		public $description;
		public $method_title;
		public $method_description;
		public $has_fields;
		public $supports = array();
		public $form_fields = array();
		public $settings = array();
		public $enabled = 'no';

		public function get_option_key() {
			return 'woocommerce_' . $this->id . '_settings';
		}

		public function init_settings() {
			$saved          = get_option( $this->get_option_key(), array() );
			$this->settings = is_array( $saved ) ? $saved : array();
			foreach ( $this->form_fields as $key => $field ) {
				if ( ! isset( $this->settings[ $key ] ) && isset( $field['default'] ) ) {
					$this->settings[ $key ] = $field['default'];
				}
			}
			$this->enabled = isset( $this->settings['enabled'] ) ? $this->settings['enabled'] : 'no';
		}

		public function get_option( $key, $empty_value = null ) {
			if ( isset( $this->settings[ $key ] ) && '' !== $this->settings[ $key ] ) {
				return $this->settings[ $key ];
			}
			return null === $empty_value ? ( isset( $this->settings[ $key ] ) ? $this->settings[ $key ] : '' ) : $empty_value;
		}

		/** As WC_Settings_API: each posted field goes through validate_<key>_field when the gateway has one. */
		public function process_admin_options( array $posted = array() ) {
			foreach ( $this->form_fields as $key => $field ) {
				if ( ! array_key_exists( $key, $posted ) ) {
					continue;
				}
				$method                 = 'validate_' . $key . '_field';
				$this->settings[ $key ] = method_exists( $this, $method ) ? $this->$method( $key, $posted[ $key ] ) : $posted[ $key ];
			}
			return update_option( $this->get_option_key(), $this->settings );
		}

		/** As WC_Payment_Gateway::is_available() without a cart: enabled. */
		public function is_available() {
			return 'yes' === $this->enabled;
		}

		public function supports( $feature ) {
			return in_array( $feature, $this->supports, true );
		}

		public function get_return_url( $order = null ) {
			return $order ? $order->get_checkout_order_received_url() : home_url( 'checkout/order-received/' );
		}
	}

	/** WC_Payment_Gateways: instantiates the registered gateways once (their constructors hook wc-api actions). */
	class WC_Payment_Gateways {
		public $payment_gateways = array();

		public function __construct() {
			foreach ( apply_filters( 'woocommerce_payment_gateways', array() ) as $class ) {
				$gateway                                = new $class();
				$this->payment_gateways[ $gateway->id ] = $gateway;
			}
		}

		/** Every gateway by id. */
		public function payment_gateways() {
			return $this->payment_gateways;
		}

		/** As WooCommerce: the gateways whose is_available() says so. */
		public function get_available_payment_gateways() {
			return array_filter(
				$this->payment_gateways,
				function ( $gateway ) {
					return $gateway->is_available();
				}
			);
		}
	}

	class VB_WooCommerce {
		private $gateways;

		/** As WC()->api_request_url() without pretty permalinks. */
		public function api_request_url( $request ) {
			return home_url( '?wc-api=' . rawurlencode( $request ) );
		}

		/** As WC()->payment_gateways(): the WC_Payment_Gateways instance, made on first use. */
		public function payment_gateways() {
			if ( null === $this->gateways ) {
				$this->gateways = new WC_Payment_Gateways();
			}
			return $this->gateways;
		}
	}

	/** WC(): one instance per request ($GLOBALS['vb_wc'], which a test resets to start a new request). */
	function WC() {
		if ( empty( $GLOBALS['vb_wc'] ) ) {
			$GLOBALS['vb_wc'] = new VB_WooCommerce();
		}
		return $GLOBALS['vb_wc'];
	}
}
